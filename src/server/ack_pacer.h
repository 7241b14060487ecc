// AckPacer: holds 202s back while the store is far behind the log (SPEC §1.6, §1.7).
//
// The log accepts events faster than DuckDB stores them on a small machine (push with
// the store on ran ~1.4x the end-to-end rate). Without a brake the gap is absorbed by the
// log: at sustained load the backlog grew to hundreds of MB and an accepted event took
// seconds to become searchable (bench/freshness.py), long before the 503 limit
// ([log] max_unconsumed_bytes, 8 GiB) said anything. Delaying acknowledgements instead
// slows every closed-loop client (SDKs, `sluice bench`, a retrying cron job) to the pace
// the store keeps, with no error and no retry: TCP-style backpressure. The ack still
// leaves only after its fsync; it just may leave later.
//
// Search reads the log past the store's position since (query/log_tail_search.h), but
// only up to [search] log_tail_bytes, and SQL reads the store alone: the lag this keeps
// bounded is what those two see.
//
// An ack is held while `behind()` says the store lags (the server asks: is the oldest
// durable event not yet stored older than [store] max_lag_ms?), and never longer than
// `max_delay_ms` (a stalled store must not look like a hung server: the 503 limit is the
// brake for that). Held acks leave in arrival order. Stop() lets every held ack go.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice {

class AckPacer {
 public:
  // `behind` is called on Send and from the pacer's thread, every poll while acks wait.
  AckPacer(std::function<bool()> behind, int max_delay_ms);
  ~AckPacer();  // Stop()s
  AckPacer(const AckPacer&) = delete;
  AckPacer& operator=(const AckPacer&) = delete;

  // Runs `send` now when nothing is held and the lag is under the limit; otherwise holds
  // it until the lag is (or its max delay passes). Called from the log's commit thread.
  void Send(std::function<void()> send);
  // Sends every held ack and sends later ones at once (shutdown).
  void Stop();

  uint64_t held_total() const;     // acks that had to wait, since start
  uint64_t held_now() const;       // acks waiting right now
  uint64_t released_late() const;  // acks let go by max_delay_ms rather than by the lag

 private:
  struct Held {
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> send;
  };
  void Loop();

  const std::function<bool()> behind_;
  const std::chrono::milliseconds max_delay_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Held> held_;
  bool stop_ = false;
  uint64_t held_total_ = 0;
  uint64_t released_late_ = 0;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace sluice
