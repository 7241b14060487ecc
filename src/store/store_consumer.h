// StoreConsumer: moves durable log records into the EventStore (SPEC §4, log -> store).
//
// The offset committed in DuckDB is the truth: the consumer starts there and commits each
// batch of rows together with the new offset (EventStore::AppendBatch). Only afterwards
// does it tell the log (CommitConsumerOffset), so the log's copy may lag the store's but
// never lead it, and a segment is deleted only once its rows are committed in DuckDB.
// A failed batch is retried from the committed offset after a backoff: nothing skipped,
// nothing doubled.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "log/log.h"
#include "store/event_store.h"

namespace sluice {

struct StoreConsumerOptions {
  uint64_t batch_events = 100000;  // rows per transaction, at most (plus one log record's)
  int batch_ms = 200;              // how long a partial batch may wait for more records
  int idle_poll_ms = 5;            // sleep when caught up with the durable end
};

class StoreConsumer {
 public:
  static constexpr const char* kName = "store";
  StoreConsumer(Log* log, EventStore* store, StoreConsumerOptions options);
  ~StoreConsumer();  // Stop()s
  StoreConsumer(const StoreConsumer&) = delete;
  StoreConsumer& operator=(const StoreConsumer&) = delete;

  // Resumes from the store's committed offset and tails the log on a background thread.
  Status Start();
  // Commits the batch in hand, then joins the thread. Idempotent.
  void Stop();
  // Foreground alternative to Start(): applies everything durable now, then returns.
  Status RunUntilCaughtUp();

  // The log offset whose rows are committed in the store.
  uint64_t applied_offset() const { return applied_.load(std::memory_order_acquire); }
  uint64_t rows_written() const { return rows_.load(std::memory_order_relaxed); }

 private:
  Status Init();
  // Reads up to one batch and commits it; *idle when there was nothing to read.
  Status Step(bool wait_for_more, bool* idle);
  void Loop();
  // Sleeps up to `ms`, returning early when Stop() is called.
  void SleepFor(int ms);

  Log* const log_;
  EventStore* const store_;
  const StoreConsumerOptions options_;
  std::unique_ptr<LogReader> reader_;
  uint64_t offset_ = 0;  // committed in the store; owned by the consumer thread
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;  // wakes SleepFor on Stop
  std::thread thread_;
};

}  // namespace sluice
