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
  auto committed = store_->LoadOffset(kName);
  if (!committed.ok()) return committed.status();
  offset_ = *committed;
  const uint64_t start = log_->start_offset();
  const uint64_t end = log_->end_offset();
  if (offset_ < start) {
    // A fresh store (0) starts with what the log still holds. Anything else means the
    // log's consumer file ran ahead of DuckDB or the database was replaced: the range in
    // between is gone, so say it loudly.
    if (offset_ != 0) {
      spdlog::error(
          "store is at log offset {} but the log starts at {}: events in between are not "
          "in the store",
          offset_, start);
    }
    offset_ = start;
  } else if (offset_ > end) {
    // The log lost its tail (or was replaced) after the store applied it. New records
    // will start at `end`; resuming at a stale offset would land mid-record.
    spdlog::error("store is at log offset {} beyond the log's end {}: resuming at the end", offset_,
                  end);
    offset_ = end;
  }
  // The log's copy may only lag the store's; bring it up to date so GC can proceed.
  SLUICE_RETURN_IF_ERROR(log_->CommitConsumerOffset(kName, offset_));
  reader_ = log_->NewReader(offset_);
  applied_.store(offset_, std::memory_order_release);
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
    b->end = reader_->position();
    return Status::OK();
  }
  std::string_view batch_payload = rec.payload;
  if (rec.type == RecordType::kConnectorBatch) {
    // The checkpoint commits in the same DuckDB transaction as the record's events.
    ConnectorCheckpoint cp;
    SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &cp, &batch_payload));
    b->checkpoints.push_back(std::move(cp));
  } else if (rec.type != RecordType::kEventBatch) {
    // Skipping would drop data once another record type carries events; stall (and
    // retry, loudly) until this consumer learns the type.
    return Status::Internal("store consumer: unsupported log record type " +
                            std::to_string(static_cast<int>(rec.type)) + " at offset " +
                            std::to_string(rec.offset));
  }
  // One copy of the payload instead of one Event (eight strings) per event: profiled at
  // 100K-row batches, allocating, copying and freeing those strings made this thread a
  // seventh of the machine in an end-to-end push.
  const std::string& kept = b->payloads.emplace_back(batch_payload);
  EventBatchReader batch(kept);
  // No reserve(size + count) here: growing to the exact size on every record would copy
  // all rows gathered so far each time (quadratic). Geometric growth amortizes it.
  StoreRow row;
  row.log_offset = rec.offset;
  Status bst;
  while (batch.Next(&row.event, &bst)) b->rows.push_back(row);
  if (!bst.ok()) {
    return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                              bst.ToString());
  }
  // position(), not rec.end_offset: it also covers damaged bytes the reader skipped.
  b->end = reader_->position();
  return Status::OK();
}

Status StoreConsumer::Gather(Batch* b, bool pipelined) {
  b->start = b->end = reader_->position();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.batch_ms);
  LogRecord rec;
  Status st;
  while (b->rows.size() < options_.batch_events && !reader_quit_.load()) {
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
    // only grows. Once it waits, a big enough batch goes at once; a small one lingers up
    // to batch_ms so that a trickle of events does not cost a transaction each.
    if (committer_idle_.load() &&
        (b->rows.size() >= options_.batch_events / 8 || now >= deadline)) {
      break;
    }
    SleepFor(std::min(2, options_.batch_ms));
  }
  return Status::OK();
}

Status StoreConsumer::Commit(const Batch& b) {
  if (b.start != offset_) {
    // Batches must follow each other exactly, or the store would skip or double records.
    return Status::Internal("store consumer: batch at log offset " + std::to_string(b.start) +
                            " does not follow the committed offset " + std::to_string(offset_));
  }
  SLUICE_RETURN_IF_ERROR(store_->AppendRows(b.rows, b.checkpoints, kName, b.end, b.dead_letters));
  offset_ = b.end;
  applied_.store(offset_, std::memory_order_release);
  rows_.fetch_add(b.rows.size(), std::memory_order_relaxed);
  // Best effort: the store holds the truth, and the next batch commits a newer offset.
  Status s = log_->CommitConsumerOffset(kName, offset_);
  if (s.ok()) s = log_->CollectGarbage();
  if (!s.ok()) spdlog::warn("store consumer: {}", s.ToString());
  return Status::OK();
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
      cv_.wait(lock, [this] { return handed_ || reader_done_; });
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
    if (b) s = Commit(*b);
    if (s.ok()) {
      failures = 0;
      continue;
    }
    // Start over from the committed offset; the batch in hand was rolled back, and the
    // one the reader gathered meanwhile follows it, so it goes too.
    const int backoff_ms = std::min(5000, 100 << std::min(failures++, 6));
    spdlog::error("store consumer at log offset {}: {} (retrying in {} ms)", offset_, s.ToString(),
                  backoff_ms);
    StopReader();
    SleepFor(backoff_ms);
    if (stop_.load()) break;
    reader_ = log_->NewReader(offset_);
    StartReader();
  }
  StopReader();
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
  while (true) {
    Batch b;
    SLUICE_RETURN_IF_ERROR(Gather(&b, /*pipelined=*/false));
    if (b.empty()) return Status::OK();
    SLUICE_RETURN_IF_ERROR(Commit(b));
  }
}

}  // namespace sluice
