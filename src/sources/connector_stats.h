// Counters and status of one running connector, read by /metrics and
// /v1/admin/connectors while the connector's thread updates them.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace sluice {

struct ConnectorStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> records{0};     // records pulled (before dedupe)
  std::atomic<uint64_t> stored{0};      // new events stored
  std::atomic<uint64_t> duplicates{0};  // records already stored (overlap, replays)
  std::atomic<uint64_t> record_errors{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> rate_limited{0};  // 429 answers
  std::atomic<uint64_t> cursor_expired{0};
  std::atomic<uint64_t> cursor_loops{0};
  std::atomic<uint64_t> late_records{0};  // time window: found behind the checkpoint
  std::atomic<uint64_t> polls{0};
  std::atomic<int64_t> checkpoint_at_us{0};  // when the checkpoint last moved
  std::atomic<int64_t> caught_up_at_us{0};   // when upstream last had nothing more
  std::atomic<int64_t> position_us{0};       // time window: the checkpoint's time

  void SetError(std::string e) {
    std::lock_guard<std::mutex> l(mu_);
    last_error_ = std::move(e);
  }
  std::string last_error() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_error_;
  }
  void SetState(std::string s) {
    std::lock_guard<std::mutex> l(mu_);
    state_ = std::move(s);
  }
  std::string state() const {
    std::lock_guard<std::mutex> l(mu_);
    return state_;
  }

 private:
  mutable std::mutex mu_;
  std::string last_error_;
  std::string state_ = "starting";
};

}  // namespace sluice
