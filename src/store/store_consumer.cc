#include "store/store_consumer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "ingest/event_codec.h"

namespace sluice {

StoreConsumer::StoreConsumer(Log* log, EventStore* store, StoreConsumerOptions options)
    : log_(log), store_(store), options_(options) {}

StoreConsumer::~StoreConsumer() { Stop(); }

Status StoreConsumer::Init() {
  auto committed = store_->LoadOffset(kName);
  if (!committed.ok()) return committed.status();
  auto registered = log_->RegisterConsumer(kName);
  if (!registered.ok()) return registered.status();
  offset_ = *committed;
  const uint64_t start = log_->start_offset();
  if (offset_ < start) {
    // Only possible if the store was replaced or the log's consumer file ran ahead of
    // DuckDB; the missing range is gone, so say it loudly rather than silently.
    if (offset_ != 0) {
      spdlog::error(
          "store is at log offset {} but the log starts at {}: events in between "
          "are not in the store",
          offset_, start);
    }
    offset_ = start;
  }
  // The log's view may only lag the store's; bring it up to date.
  SLUICE_RETURN_IF_ERROR(log_->CommitConsumerOffset(kName, offset_));
  reader_ = log_->NewReader(offset_);
  applied_.store(offset_);
  return Status::OK();
}

Status StoreConsumer::Step(bool wait_for_more, bool* idle) {
  std::vector<Event> events;
  uint64_t batch_end = offset_;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.batch_ms);
  LogRecord rec;
  Status st;
  while (events.size() < options_.batch_events) {
    if (reader_->Next(&rec, &st)) {
      if (rec.type == RecordType::kEventBatch) {
        EventBatchReader batch(rec.payload);
        Event e;
        Status bst;
        while (batch.Next(&e, &bst)) events.push_back(std::move(e));
        if (!bst.ok()) return bst;
      }
      batch_end = rec.end_offset;
      continue;
    }
    if (!st.ok()) return st;
    if (!wait_for_more || stop_.load() || std::chrono::steady_clock::now() >= deadline) break;
    if (batch_end == offset_) break;  // nothing at all yet: let the caller idle
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  *idle = batch_end == offset_;
  if (*idle) return Status::OK();
  SLUICE_RETURN_IF_ERROR(store_->AppendBatch(events, kName, batch_end));
  offset_ = batch_end;
  applied_.store(offset_);
  rows_.fetch_add(events.size(), std::memory_order_relaxed);
  Status s = log_->CommitConsumerOffset(kName, offset_);
  if (s.ok()) s = log_->CollectGarbage();
  if (!s.ok()) spdlog::warn("store consumer: {}", s.ToString());  // retried next batch
  return Status::OK();
}

Status StoreConsumer::Start() {
  SLUICE_RETURN_IF_ERROR(Init());
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void StoreConsumer::Loop() {
  int failures = 0;
  while (!stop_.load()) {
    bool idle = false;
    Status s = Step(/*wait_for_more=*/true, &idle);
    if (!s.ok()) {
      // Retry from the committed offset after a backoff; never skip.
      spdlog::error("store consumer: {} (retrying)", s.ToString());
      reader_ = log_->NewReader(offset_);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(5000, 100 << std::min(failures++, 6))));
      continue;
    }
    failures = 0;
    if (idle) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void StoreConsumer::Stop() {
  stop_.store(true);
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
