// StoreConsumer: moves durable log records into the EventStore (SPEC §4, log -> store).
//
// The offset committed in DuckDB is the truth: the consumer starts there and commits each
// batch of rows together with the new offset (EventStore::AppendBatch). Only afterwards
// does it tell the log (CommitConsumerOffset), so the log's copy may lag the store's but
// never lead it, and a segment is deleted only once its rows are committed in DuckDB.
// A failed batch is retried from the committed offset after a backoff: nothing skipped,
// nothing doubled.
//
// Two threads, so that reading and decoding the next batch overlaps DuckDB committing
// this one (a commit of 100K rows spends a fifth of a second in the WAL, its fsync and
// checkpoints, with a core to spare; measured in bench/README.md, session 13):
//   store-read: log -> decoded Batch, handed over one at a time (at most two in memory);
//   store:      Batch -> one DuckDB transaction, strictly in log order.
// Batches are contiguous ranges of whole records, committed in the order they were read,
// so the store always holds a prefix of the log. After a failure the reader is stopped,
// the batch it gathered dropped, and both resume from the committed offset.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status.h"
#include "log/log.h"
#include "store/event_store.h"

namespace sluice {

struct StoreConsumerOptions {
  uint64_t batch_events = 100000;  // rows per transaction, at most (plus one log record's)
  // How long a small batch may wait for more records while the committer is idle. A batch
  // of batch_events / 8 rows or more goes as soon as the log has nothing more: once DuckDB
  // is the bottleneck, waiting only adds lag (and, through the ack pacer, slows clients).
  int batch_ms = 200;
  int idle_poll_ms = 5;  // sleep when caught up with the durable end
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
  // One thread, no pipeline.
  Status RunUntilCaughtUp();

  // The log offset whose rows are committed in the store.
  uint64_t applied_offset() const { return applied_.load(std::memory_order_acquire); }
  uint64_t rows_written() const { return rows_.load(std::memory_order_relaxed); }

 private:
  // What one DuckDB transaction commits: the whole log records before `end`.
  struct Batch {
    // The records' payloads, copied once; `rows` points into them. A deque, so that
    // adding one never moves the others (a moved short string would take its bytes along).
    std::deque<std::string> payloads;
    std::vector<StoreRow> rows;
    std::vector<RejectedEvent> dead_letters;
    std::vector<ConnectorCheckpoint> checkpoints;  // newest last; the store upserts in order
    uint64_t start = 0;
    uint64_t end = 0;
    bool empty() const { return end == start; }
  };

  Status Init();
  // Reads whole records into *b (empty, positioned at the reader) until it holds
  // batch_events rows, the durable end is reached (`pipelined` false), or, pipelined, the
  // committer is idle and the batch big or old enough. Returns early on Stop().
  Status Gather(Batch* b, bool pipelined);
  Status AddRecord(const LogRecord& rec, Batch* b);
  Status Commit(const Batch& b);
  void Loop();      // the committing thread
  void ReadLoop();  // the reading thread
  void StartReader();
  void StopReader();  // joins it and drops a batch it handed over but was not committed
  // Sleeps up to `ms`, returning early when Stop() is called.
  void SleepFor(int ms);

  Log* const log_;
  EventStore* const store_;
  const StoreConsumerOptions options_;
  std::unique_ptr<LogReader> reader_;  // the reading thread's while it runs
  uint64_t offset_ = 0;                // committed in the store; owned by the committer
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;  // Stop, and the hand-over below
  // The hand-over, under mu_: the reader fills `handed_`, the committer empties it.
  std::optional<Batch> handed_;
  std::optional<Status> reader_failed_;   // the reader's error; it has exited
  bool reader_done_ = false;              // the reader has exited (after Stop or a failure)
  std::atomic<bool> reader_quit_{false};  // asks the reader to exit now, dropping its batch
  std::atomic<bool> committer_idle_{false};
  std::thread reader_thread_;
  std::thread thread_;
};

}  // namespace sluice
