// StoreConsumer (store_consumer.h): the thread that tails the log into DuckDB, batch by
// batch, resuming from the offset committed in DuckDB.
#include "store/store_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "common/thread_name.h"
#include "ingest/connector_batch.h"
#include "ingest/dead_letter_codec.h"
#include "ingest/event_codec.h"

namespace sluice {

StoreConsumer::StoreConsumer(Log* log, EventStore* store, StoreConsumerOptions options)
    : log_(log), store_(store), options_(options) {}

StoreConsumer::~StoreConsumer() { Stop(); }

Status StoreConsumer::Init() {
  // Registering first pins the log's start: GC cannot delete segments between reading
  // start_offset() and resuming.
  auto registered = log_->RegisterConsumer(kName);
  if (!registered.ok()) return registered.status();
  auto committed = store_->LoadPosition(kName);
  if (!committed.ok()) return committed.status();
  position_ = *committed;
  const uint64_t start = log_->start_offset();
  const uint64_t end = log_->end_offset();
  if (position_.log_offset < start) {
    // A fresh store (0) starts with what the log still holds. Anything else means the
    // log's consumer file ran ahead of DuckDB or the database was replaced: the range in
    // between is gone, so say it loudly.
    if (position_.log_offset != 0) {
      spdlog::error(
          "store is at log offset {} but the log starts at {}: events in between are not "
          "in the store",
          position_.log_offset, start);
    }
    position_ = {start, 0};
  } else if (position_.log_offset > end ||
             (position_.log_offset == end && position_.rows_applied > 0)) {
    // The log lost its tail (or was replaced) after the store applied it. New records
    // will start at `end`; resuming at a stale offset would land mid-record.
    spdlog::error("store is at log offset {} beyond the log's end {}: resuming at the end",
                  position_.log_offset, end);
    position_ = {end, 0};
  }
  // The log's copy may only lag the store's; bring it up to date so GC can proceed.
  SLUICE_RETURN_IF_ERROR(log_->CommitConsumerOffset(kName, position_.log_offset));
  SLUICE_RETURN_IF_ERROR(OpenReader());
  applied_.store(position_.log_offset, std::memory_order_release);
  return Status::OK();
}

Status StoreConsumer::OpenReader() {
  reader_ = log_->NewReader(position_.log_offset);
  partial_.reset();
  if (position_.rows_applied == 0) return Status::OK();
  LogRecord rec;
  Status st;
  const bool got = reader_->Next(&rec, &st);
  if (got && rec.offset == position_.log_offset) {
    partial_ =
        PartialRecord{rec.type, rec.offset, std::string(rec.payload), position_.rows_applied};
    return Status::OK();
  }
  // A read error may pass (and the consumer stalls on those anyway): going on from the
  // record's first event would store the applied ones twice.
  if (!st.ok()) {
    return Status::IOError("store consumer: cannot read back the record at log offset " +
                           std::to_string(position_.log_offset) + ", " +
                           std::to_string(position_.rows_applied) +
                           " of its events stored: " + st.ToString());
  }
  // The record was damaged since and the reader skips it (or nothing is left to read):
  // none of the rest of it can be stored. Go on after it.
  spdlog::error(
      "store consumer: the record at log offset {}, {} of its events stored, cannot be read "
      "back; going on with the next record",
      position_.log_offset, position_.rows_applied);
  reader_ = log_->NewReader(position_.log_offset);
  position_.rows_applied = 0;
  return Status::OK();
}

Status StoreConsumer::AddRecord(const LogRecord& rec, Batch* b) {
  if (rec.type == RecordType::kDeadLetter) {
    const size_t first = b->dead_letters.size();
    Status dst = DecodeDeadLetters(rec.payload, &b->dead_letters);
    if (!dst.ok()) {
      return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                                dst.ToString());
    }
    for (size_t i = first; i < b->dead_letters.size(); ++i) {
      b->dead_letters[i].event.log_offset = rec.offset;
    }
    b->end = {reader_->position(), 0};
    return Status::OK();
  }
  return AddEvents(rec.type, rec.offset, rec.payload, 0, b);
}

Status StoreConsumer::AddEvents(RecordType type, uint64_t offset, std::string_view payload,
                                uint64_t first, Batch* b) {
  std::string_view events = payload;
  std::optional<ConnectorCheckpoint> cp;
  if (type == RecordType::kConnectorBatch) {
    // The checkpoint commits in the same DuckDB transaction as the record's last events.
    cp.emplace();
    SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(payload, &*cp, &events));
  } else if (type != RecordType::kEventBatch) {
    // Skipping would drop data once another record type carries events; stall (and
    // retry, loudly) until this consumer learns the type.
    return Status::Internal("store consumer: unsupported log record type " +
                            std::to_string(static_cast<int>(type)) + " at offset " +
                            std::to_string(offset));
  }
  // One copy of the payload instead of one Event (eight strings) per event: profiled at
  // 100K-row batches, allocating, copying and freeing those strings made this thread a
  // seventh of the machine in an end-to-end push.
  const std::string& kept = b->payloads.emplace_back(events);
  EventBatchReader batch(kept);
  // No reserve(size + count) here: growing to the exact size on every record would copy
  // all rows gathered so far each time (quadratic). Geometric growth amortizes it.
  StoreRow row;
  row.log_offset = offset;
  Status bst;
  uint64_t index = 0;
  const uint64_t room = b->limit > b->rows.size() ? b->limit - b->rows.size() : 0;
  uint64_t taken = 0;
  bool more = false;
  while (batch.Next(&row.event, &bst)) {
    if (index++ < first) continue;
    if (taken == room) {
      more = true;
      break;
    }
    b->rows.push_back(row);
    ++taken;
  }
  if (!bst.ok()) {
    return Status::Corruption("log record at offset " + std::to_string(offset) + ": " +
                              bst.ToString());
  }
  if (more) {
    partial_ = PartialRecord{type, offset, std::string(payload), first + taken};
    b->end = {offset, first + taken};
    return Status::OK();
  }
  if (cp) b->checkpoints.push_back(std::move(*cp));
  // position(), not the record's end: it also covers damaged bytes the reader skipped.
  b->end = {reader_->position(), 0};
  return Status::OK();
}

Status StoreConsumer::Gather(Batch* b, bool pipelined) {
  b->limit = options_.batch_events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    b->rows.swap(spare_rows_);
  }
  if (b->rows.capacity() < b->limit) b->rows.reserve(b->limit);
  b->start = b->end = partial_ ? ConsumerPosition{partial_->offset, partial_->rows_done}
                               : ConsumerPosition{reader_->position(), 0};
  if (partial_) {
    PartialRecord p = std::move(*partial_);
    partial_.reset();
    SLUICE_RETURN_IF_ERROR(AddEvents(p.type, p.offset, p.payload, p.rows_done, b));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.batch_ms);
  bool rounding = false;  // waiting to fill up to a row-group boundary
  LogRecord rec;
  Status st;
  while (b->rows.size() < b->limit && !reader_quit_.load()) {
    if (reader_->Next(&rec, &st)) {
      SLUICE_RETURN_IF_ERROR(AddRecord(rec, b));
      continue;
    }
    if (!st.ok()) return st;
    if (!pipelined || stop_.load()) break;
    const auto now = std::chrono::steady_clock::now();
    if (b->empty()) {
      SleepFor(options_.idle_poll_ms);
      deadline = now + std::chrono::milliseconds(options_.batch_ms);
      continue;
    }
    // While the committer is busy nothing is lost by reading on: the batch it takes next
    // only grows. Once it waits, a batch of less than a row group goes at once if it is
    // big enough (DuckDB takes it through its WAL either way), and one of a row group or
    // more first fills up to the next row-group boundary, two at least (see the header):
    // both within batch_ms, so that a trickle of events does not cost a transaction each.
    if (committer_idle_.load()) {
      if (b->rows.size() < kDuckDbRowGroupRows) {
        if (b->rows.size() >= options_.batch_events / 8 || now >= deadline) break;
      } else if (!rounding) {
        rounding = true;
        // Two row groups at least: exactly one still goes through DuckDB's WAL.
        const uint64_t groups =
            std::max<uint64_t>(2, (b->rows.size() + kDuckDbRowGroupRows - 1) / kDuckDbRowGroupRows);
        b->limit = std::min(b->limit, groups * kDuckDbRowGroupRows);
        deadline = now + std::chrono::milliseconds(options_.batch_ms);
      } else if (now >= deadline) {
        break;
      }
    }
    SleepFor(std::min(2, options_.batch_ms));
  }
  return Status::OK();
}

void StoreConsumer::KeepRowsForNextBatch(Batch* b) {
  b->rows.clear();
  std::lock_guard<std::mutex> lock(mu_);
  spare_rows_ = std::move(b->rows);
}

Status StoreConsumer::Commit(const Batch& b) {
  if (!(b.start == position_)) {
    // Batches must follow each other exactly, or the store would skip or double records.
    return Status::Internal(
        "store consumer: batch at log offset " + std::to_string(b.start.log_offset) + " (+" +
        std::to_string(b.start.rows_applied) + " events) does not follow the committed offset " +
        std::to_string(position_.log_offset) + " (+" + std::to_string(position_.rows_applied) +
        ")");
  }
  SLUICE_RETURN_IF_ERROR(store_->AppendRows(b.rows, b.checkpoints, kName, b.end, b.dead_letters));
  position_ = b.end;
  applied_.store(position_.log_offset, std::memory_order_release);
  rows_.fetch_add(b.rows.size(), std::memory_order_relaxed);
  // Best effort: the store holds the truth, and the next batch commits a newer offset.
  Status s = log_->CommitConsumerOffset(kName, position_.log_offset);
  if (s.ok()) s = log_->CollectGarbage();
  if (!s.ok()) spdlog::warn("store consumer: {}", s.ToString());
  AdaptThreads(b.rows.size() >= options_.batch_events);
  return Status::OK();
}

void StoreConsumer::AdaptThreads(bool full) {
  if (options_.saturated_threads <= 0 || store_->fixed_threads() > 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (full) last_full_ = now;
  const bool narrow =
      full || (narrowed_ && now - last_full_ < std::chrono::milliseconds(options_.widen_after_ms));
  if (narrow == narrowed_) return;
  Status s = store_->SetThreads(narrow ? options_.saturated_threads : 0);
  if (!s.ok()) {
    // Retried at the next commit or wake-up; said once, not every 100 ms.
    if (!threads_warned_)
      spdlog::warn("store consumer: setting DuckDB's threads: {}", s.ToString());
    threads_warned_ = true;
    return;
  }
  threads_warned_ = false;
  narrowed_ = narrow;
}

Status StoreConsumer::Start() {
  SLUICE_RETURN_IF_ERROR(Init());
  thread_ = std::thread([this] {
    SetCurrentThreadName("store");
    Loop();
  });
  return Status::OK();
}

void StoreConsumer::StartReader() {
  reader_thread_ = std::thread([this] {
    SetCurrentThreadName("store-read");
    ReadLoop();
  });
}

void StoreConsumer::StopReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);  // under mu_: a reader about to wait sees it
    reader_quit_.store(true);
  }
  cv_.notify_all();
  if (reader_thread_.joinable()) reader_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  handed_.reset();
  reader_failed_.reset();
  reader_done_ = false;
  reader_quit_.store(false);
}

void StoreConsumer::ReadLoop() {
  while (true) {
    {
      // At most two batches in memory: the one being committed and this one.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !handed_ || reader_quit_.load(); });
      if (reader_quit_.load()) break;
    }
    Batch b;
    Status s = Gather(&b, /*pipelined=*/true);
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reader_quit_.load()) break;
      if (!s.ok()) {
        reader_failed_ = s;
        done = true;
      } else {
        if (!b.empty()) handed_ = std::move(b);
        done = stop_.load();  // the batch in hand is handed over; nothing more is read
      }
    }
    cv_.notify_all();
    if (done) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    reader_done_ = true;
  }
  cv_.notify_all();
}

void StoreConsumer::Loop() {
  int failures = 0;
  StartReader();
  while (true) {
    std::optional<Batch> b;
    Status s;
    {
      std::unique_lock<std::mutex> lock(mu_);
      committer_idle_.store(true);
      const auto ready = [this] { return handed_ || reader_done_; };
      // Narrowed, it wakes now and then so that DuckDB gets its threads back once
      // ingest stops, not only at the next commit.
      while (narrowed_ && !cv_.wait_for(lock, std::chrono::milliseconds(100), ready)) {
        lock.unlock();
        AdaptThreads(false);
        lock.lock();
      }
      cv_.wait(lock, ready);
      committer_idle_.store(false);
      if (handed_) {
        b = std::move(handed_);
        handed_.reset();
      } else if (reader_failed_) {
        s = *reader_failed_;
      } else {
        break;  // stopped, and everything handed over is committed
      }
    }
    cv_.notify_all();  // the reader may start on the next batch
    if (b) {
      s = Commit(*b);
      KeepRowsForNextBatch(&*b);
    }
    if (s.ok()) {
      failures = 0;
      continue;
    }
    // Start over from the committed offset; the batch in hand was rolled back, and the
    // one the reader gathered meanwhile follows it, so it goes too. A store that keeps
    // failing must not keep DuckDB on one thread.
    StopReader();
    WidenThreads();
    bool reopened = false;
    while (!reopened) {
      const int backoff_ms = std::min(5000, 100 << std::min(failures++, 6));
      spdlog::error("store consumer at log offset {}: {} (retrying in {} ms)", position_.log_offset,
                    s.ToString(), backoff_ms);
      SleepFor(backoff_ms);
      if (stop_.load()) break;
      s = OpenReader();
      reopened = s.ok();
    }
    if (!reopened) break;
    StartReader();
  }
  StopReader();
  WidenThreads();
}

void StoreConsumer::WidenThreads() {
  if (!narrowed_) return;
  last_full_ = {};
  AdaptThreads(false);
}

void StoreConsumer::SleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms),
               [this] { return stop_.load() || reader_quit_.load(); });
}

void StoreConsumer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status StoreConsumer::RunUntilCaughtUp() {
  if (!reader_) SLUICE_RETURN_IF_ERROR(Init());
  Status s;
  while (s.ok()) {
    Batch b;
    s = Gather(&b, /*pipelined=*/false);
    if (!s.ok() || b.empty()) break;
    s = Commit(b);
    KeepRowsForNextBatch(&b);
  }
  WidenThreads();  // caught up, or failed: DuckDB's threads go back either way
  return s;
}

}  // namespace sluice
