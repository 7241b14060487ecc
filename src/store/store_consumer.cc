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

Status StoreConsumer::Step(bool wait_for_more, bool* idle) {
  std::vector<Event> events;
  std::vector<RejectedEvent> dead_letters;
  std::vector<ConnectorCheckpoint> checkpoints;  // newest last; the store upserts in order
  uint64_t batch_end = offset_;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.batch_ms);
  LogRecord rec;
  Status st;
  while (events.size() < options_.batch_events) {
    if (reader_->Next(&rec, &st)) {
      if (rec.type == RecordType::kDeadLetter) {
        const size_t first = dead_letters.size();
        Status dst = DecodeDeadLetters(rec.payload, &dead_letters);
        if (!dst.ok()) {
          return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                                    dst.ToString());
        }
        for (size_t i = first; i < dead_letters.size(); ++i) {
          dead_letters[i].event.log_offset = rec.offset;
        }
        batch_end = reader_->position();
        continue;
      }
      std::string_view batch_payload = rec.payload;
      if (rec.type == RecordType::kConnectorBatch) {
        // The checkpoint commits in the same DuckDB transaction as the record's events.
        ConnectorCheckpoint cp;
        SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &cp, &batch_payload));
        checkpoints.push_back(std::move(cp));
      } else if (rec.type != RecordType::kEventBatch) {
        // Skipping would drop data once another record type carries events; stall (and
        // retry, loudly) until this consumer learns the type.
        return Status::Internal("store consumer: unsupported log record type " +
                                std::to_string(static_cast<int>(rec.type)) + " at offset " +
                                std::to_string(rec.offset));
      }
      EventBatchReader batch(batch_payload);
      // No reserve(size + count) here: growing to the exact size on every record made the
      // vector move all events gathered so far each time (quadratic; perf showed half the
      // consumer in string moves). Geometric growth amortizes it.
      Event e;
      Status bst;
      while (batch.Next(&e, &bst)) {
        e.log_offset = rec.offset;
        events.push_back(std::move(e));
      }
      if (!bst.ok()) {
        return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                                  bst.ToString());
      }
      // position(), not rec.end_offset: it also covers damaged bytes the reader skipped.
      batch_end = reader_->position();
      continue;
    }
    if (!st.ok()) return st;
    if (batch_end == offset_) break;  // nothing at all yet: let the caller idle
    if (!wait_for_more || stop_.load() || std::chrono::steady_clock::now() >= deadline) break;
    SleepFor(std::min(2, options_.batch_ms));
  }
  *idle = batch_end == offset_;
  if (*idle) return Status::OK();
  SLUICE_RETURN_IF_ERROR(store_->AppendBatch(events, checkpoints, kName, batch_end, dead_letters));
  offset_ = batch_end;
  applied_.store(offset_, std::memory_order_release);
  rows_.fetch_add(events.size(), std::memory_order_relaxed);
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

void StoreConsumer::Loop() {
  int failures = 0;
  while (!stop_.load()) {
    bool idle = false;
    Status s = Step(/*wait_for_more=*/true, &idle);
    if (!s.ok()) {
      // Start over from the committed offset; the batch in hand was rolled back.
      const int backoff_ms = std::min(5000, 100 << std::min(failures++, 6));
      spdlog::error("store consumer at log offset {}: {} (retrying in {} ms)", offset_,
                    s.ToString(), backoff_ms);
      SleepFor(backoff_ms);
      reader_ = log_->NewReader(offset_);
      continue;
    }
    failures = 0;
    if (idle) SleepFor(options_.idle_poll_ms);
  }
}

void StoreConsumer::SleepFor(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
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
    bool idle = false;
    SLUICE_RETURN_IF_ERROR(Step(/*wait_for_more=*/false, &idle));
    if (idle) return Status::OK();
  }
}

}  // namespace sluice
