// StoreConsumer: moves durable log records into the EventStore (SPEC §4, log -> store).
//
// It reads from the offset committed in DuckDB — the truth — and commits each batch of
// rows together with the new offset (EventStore::AppendBatch). Only then does it tell the
// log (CommitConsumerOffset, which may lag, never lead) so segments can be deleted.
// A failed batch is retried from the committed offset: nothing skipped, nothing doubled.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "common/status.h"
#include "log/log.h"
#include "store/event_store.h"

namespace sluice {

struct StoreConsumerOptions {
  uint64_t batch_events = 100000;  // rows per transaction at most
  int batch_ms = 200;              // how long a partial batch may wait for more
};

class StoreConsumer {
 public:
  static constexpr const char* kName = "store";
  StoreConsumer(Log* log, EventStore* store, StoreConsumerOptions options);
  ~StoreConsumer();

  Status Start();             // background thread, tails the log
  void Stop();                // finishes the batch in hand, then returns
  Status RunUntilCaughtUp();  // foreground: apply everything durable now, then return

  uint64_t applied_offset() const { return applied_.load(); }
  uint64_t rows_written() const { return rows_.load(); }

 private:
  Status Init();
  // Reads and commits one batch; *idle when there was nothing to read.
  Status Step(bool wait_for_more, bool* idle);
  void Loop();

  Log* log_;
  EventStore* store_;
  StoreConsumerOptions options_;
  std::unique_ptr<LogReader> reader_;
  uint64_t offset_ = 0;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice
