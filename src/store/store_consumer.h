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
// Batches are contiguous ranges of the log, committed in the order they were read, so the
// store always holds a prefix of the log. After a failure the reader is stopped, the batch
// it gathered dropped, and both resume from the committed position.
//
// Why a batch may end inside a record. A transaction's rows go to DuckDB's WAL
// uncompressed and are compressed into row groups (122,880 rows) by the next checkpoint;
// only a transaction of more than one row group is written straight into compressed row
// groups ("optimistic writes") and logs just their block pointers (bench/README.md,
// session 19: exactly one row group still takes the WAL). A batch of whole 500-event
// records never ends on a row group, and the partial group it leaves is compressed again
// by every checkpoint until it fills, or, past one row group, stays on disk as a small
// one. So a big batch is cut at a multiple of the row-group size, which usually falls
// inside a record: the committed position is then (record offset, rows of it applied),
// and the rest of that record opens the next batch (store_bench, rows per CPU-second
// against 100K-row batches of whole records: +3-20% at one row group, +37-48% at two;
// bench/README.md session 16). Readers that take a consumer offset as "everything before
// it is stored" stay right; the archiver, which watermarks hours by log offset, leaves
// the record at the offset until it is whole.
//
// Why two row groups. DuckDB writes a transaction straight into compressed row groups
// only when it holds more than one (bench/README.md, session 19); exactly one still goes
// through the WAL and is compressed again by the next checkpoint. Two skip that: the
// server's CPU per event end to end fell ~10-20% and the end-to-end rate rose 6-36% in
// alternated runs (bench/README.md, session 21). Two fill at ~0.4 s of full-rate ingest
// and take as long to commit, which once put search freshness p99 at 1.8 s (session 16).
// Search now reads the log past the store's position (query/log_tail_search.h) and the
// rollups have a file of their own, so neither waits for these commits any more; the ack
// pacer's bound ([store] max_lag_ms) sits above a batch's fill plus commit.
//
// Why one DuckDB thread while saturated. A two-row-group commit writes its row groups
// through DuckDB's TaskExecutor, whose calling thread busy-waits until every task is done
// (TaskExecutor::WorkOnTasks), also while the other worker runs one. When ingest keeps
// both cores busy that spin and the hand-offs cost more than the parallelism gives: with
// DuckDB fixed at one thread the server spent 2.42-2.46 us of CPU per event end to end
// against 2.69-3.01 us, and the rate rose 6-23% (bench/README.md, session 21). Fixed, it
// would also halve SQL on an idle server (session 13): DuckDB's threads are one setting
// for the whole instance. So they are narrowed only while the store is saturated, when
// ingest takes the cores anyway, and come back once no batch has been full for
// widen_after_ms (or at once when a foreground drain catches up). Narrowing this way beat
// threads = 2 in 6 of 7 alternated end-to-end pairs (session 21).
#pragma once

#include <atomic>
#include <chrono>
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

// DuckDB's row-group size (rows): batches under load end on multiples of it.
inline constexpr uint64_t kDuckDbRowGroupRows = 122880;

struct StoreConsumerOptions {
  // Rows per transaction, at most. A multiple of kDuckDbRowGroupRows keeps full batches on
  // row-group boundaries; more than one skips DuckDB's WAL (see above).
  uint64_t batch_events = 2 * kDuckDbRowGroupRows;
  // How long a small batch may wait for more records while the committer is idle. A batch
  // of batch_events / 8 rows or more goes as soon as the log has nothing more: once DuckDB
  // is the bottleneck, waiting only adds lag (and, through the ack pacer, slows clients).
  int batch_ms = 200;
  int idle_poll_ms = 5;  // sleep when caught up with the durable end
  // DuckDB threads while batches come full (the store is the bottleneck; see above), and
  // how long after the last full one the default comes back. 0 = leave DuckDB's threads
  // alone, as they also are when the store was opened with threads set by hand.
  int saturated_threads = 1;
  int widen_after_ms = 2000;
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

  // The log offset before which every record is committed in the store.
  uint64_t applied_offset() const { return applied_.load(std::memory_order_acquire); }
  uint64_t rows_written() const { return rows_.load(std::memory_order_relaxed); }
  // Whether DuckDB runs on saturated_threads right now.
  bool threads_narrowed() const { return narrowed_.load(std::memory_order_relaxed); }

 private:
  // What one DuckDB transaction commits: the log from `start` to `end`.
  struct Batch {
    // The records' payloads, copied once; `rows` points into them. A deque, so that
    // adding one never moves the others (a moved short string would take its bytes along).
    std::deque<std::string> payloads;
    std::vector<StoreRow> rows;
    std::vector<RejectedEvent> dead_letters;
    std::vector<ConnectorCheckpoint> checkpoints;  // newest last; the store upserts in order
    ConsumerPosition start;
    ConsumerPosition end;
    uint64_t limit = 0;  // rows at most; Gather may lower it to a row-group multiple
    bool empty() const { return end == start; }
  };
  // The part of a record that a batch ended inside of and the next one starts with. The
  // reader has passed it.
  struct PartialRecord {
    RecordType type = RecordType::kEventBatch;
    uint64_t offset = 0;
    std::string payload;     // the whole record's
    uint64_t rows_done = 0;  // its first events, committed or in a batch already
  };

  Status Init();
  // Points the reader at position_, reading back the record it is inside of, if any; an
  // error reading it back is returned, and the caller retries.
  Status OpenReader();
  // Reads records into *b (empty) from the partial record or the reader, until it holds
  // its limit of rows, the durable end is reached (`pipelined` false), or, pipelined, the
  // committer is idle and the batch big or old enough. Returns early on Stop().
  Status Gather(Batch* b, bool pipelined);
  Status AddRecord(const LogRecord& rec, Batch* b);
  // Adds a record's events from its `first` on, up to b->limit rows; what does not fit
  // becomes partial_.
  Status AddEvents(RecordType type, uint64_t offset, std::string_view payload, uint64_t first,
                   Batch* b);
  Status Commit(const Batch& b);
  // Hands b->rows, emptied, to the next Gather (spare_rows_).
  void KeepRowsForNextBatch(Batch* b);
  void Loop();      // the committing thread
  void ReadLoop();  // the reading thread
  void StartReader();
  void StopReader();  // joins it and drops a batch it handed over but was not committed
  // Sleeps up to `ms`, returning early when Stop() is called.
  void SleepFor(int ms);
  // The committer, after each commit (`full`: the batch reached batch_events) and while it
  // waits for one: narrows DuckDB's threads on a full batch, widens them widen_after_ms
  // after the last. Best effort: a failure only leaves the threads as they were.
  void AdaptThreads(bool full);
  // Gives DuckDB its default threads back now (caught up or stopping).
  void WidenThreads();

  Log* const log_;
  EventStore* const store_;
  const StoreConsumerOptions options_;
  std::unique_ptr<LogReader> reader_;     // the reading thread's while it runs
  std::optional<PartialRecord> partial_;  // likewise
  ConsumerPosition position_;             // committed in the store; owned by the committer
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> rows_{0};
  std::atomic<bool> stop_{false};
  // AdaptThreads' state. Only the committer writes it; narrowed_ is atomic so that
  // threads_narrowed() may read it from elsewhere (/metrics).
  std::atomic<bool> narrowed_{false};
  std::chrono::steady_clock::time_point last_full_;
  bool threads_warned_ = false;  // a failed SetThreads was logged
  std::mutex mu_;
  std::condition_variable cv_;  // Stop, and the hand-over below
  // The hand-over, under mu_: the reader fills `handed_`, the committer empties it.
  std::optional<Batch> handed_;
  // The rows vector of the last committed batch, emptied, for the next Gather: at
  // batch_events capacity it is tens of MB, and growing a fresh one for every batch cost
  // the reading thread half its time in copies and page faults (perf, session 16).
  std::vector<StoreRow> spare_rows_;
  std::optional<Status> reader_failed_;   // the reader's error; it has exited
  bool reader_done_ = false;              // the reader has exited (after Stop or a failure)
  std::atomic<bool> reader_quit_{false};  // asks the reader to exit now, dropping its batch
  std::atomic<bool> committer_idle_{false};
  std::thread reader_thread_;
  std::thread thread_;
};

}  // namespace sluice
