#include "ingest/ingestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/fingerprint.h"
#include "ingest/event_codec.h"

namespace sluice {

Ingestor::Ingestor(Log* log, uint64_t dedupe_capacity_slots, std::string snapshot_path)
    : log_(log), snapshot_path_(std::move(snapshot_path)), index_(dedupe_capacity_slots) {}

Status Ingestor::Recover(uint64_t* replayed_ids) {
  *replayed_ids = 0;
  uint64_t from = log_->start_offset();
  Result<uint64_t> loaded = index_.LoadSnapshot(snapshot_path_);
  if (loaded.ok()) {
    from = std::max(from, *loaded);
  } else if (loaded.status().code() != Status::Code::kNotFound) {
    // A damaged snapshot is not fatal: the log still holds everything after the last
    // good snapshot's offset only if that consumer offset survived, so rebuild from the
    // oldest retained log byte and say so.
    spdlog::warn("dedupe snapshot unusable ({}); rebuilding from the log",
                 loaded.status().ToString());
  }
  Result<uint64_t> reg = log_->RegisterConsumer("dedupe");
  if (!reg.ok()) return reg.status();
  std::unique_ptr<LogReader> reader = log_->NewReader(from);
  LogRecord rec;
  Status st;
  Event e;
  while (reader->Next(&rec, &st)) {
    std::string_view events = rec.payload;
    if (rec.type == RecordType::kConnectorBatch) {
      ConnectorCheckpoint header;
      SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &header, &events));
    } else if (rec.type != RecordType::kEventBatch) {
      continue;
    }
    EventBatchReader batch(events);
    Status bst;
    while (batch.Next(&e, &bst)) {
      if (e.id_assigned) continue;
      index_.Insert(FingerprintOf(e.tenant, e.event_id));
      ++*replayed_ids;
    }
    if (!bst.ok()) return bst;
  }
  return st;
}

Result<SubmitResult> Ingestor::Submit(std::vector<Event>* events) {
  return SubmitRecord(events, nullptr);
}

Result<SubmitResult> Ingestor::SubmitConnectorBatch(const ConnectorCheckpoint& checkpoint,
                                                    std::vector<Event>* events) {
  return SubmitRecord(events, &checkpoint);
}

Result<SubmitResult> Ingestor::SubmitRecord(std::vector<Event>* events,
                                            const ConnectorCheckpoint* checkpoint) {
  SubmitResult r;
  // Hash and encode outside the lock; only the index and the append are serialized.
  // Events are encoded straight into the batch, which is the payload when (as usual)
  // none of them is a duplicate.
  const size_t n = events->size();
  std::vector<Fingerprint> fps(n);
  std::vector<size_t> ends(n);
  EventBatchWriter all;
  const size_t first = all.size();  // past the batch's count prefix
  for (size_t i = 0; i < n; ++i) {
    const Event& e = (*events)[i];
    if (!e.id_assigned) fps[i] = FingerprintOf(e.tenant, e.event_id);
    all.Add(e);
    ends[i] = all.size();
    // Sized from the first event, so a batch of similar events grows the payload once or
    // twice instead of ~17 doublings, each a copy of everything so far.
    // Capped: a large first event must not reserve for n copies of itself.
    if (i == 0) {
      all.Reserve(
          std::min<size_t>(all.size() + (all.size() - first) * (n - 1) * 5 / 4, size_t{4} << 20));
    }
  }
  std::vector<bool> fresh(n, true);
  std::lock_guard<std::mutex> lock(mu_);
  // Each insert misses the cache; slots prefetched this far ahead arrive in parallel.
  constexpr size_t kPrefetchAhead = 8;
  auto prefetch = [&](size_t i) {
    if (!(*events)[i].id_assigned) index_.Prefetch(fps[i]);  // assigned ids are not looked up
  };
  for (size_t i = 0; i < std::min(n, kPrefetchAhead); ++i) prefetch(i);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) prefetch(i + kPrefetchAhead);
    if (!(*events)[i].id_assigned && !index_.Insert(fps[i])) {
      fresh[i] = false;
      ++r.duplicates;
    }
  }
  r.accepted = n - r.duplicates;
  if (r.accepted == 0 && checkpoint == nullptr) {
    // Every event was seen before: ack once whatever holds their first copies is durable.
    r.wait_offset = log_->end_offset();
    return r;
  }
  std::string payload;
  if (r.duplicates == 0) {
    payload = all.Finish();
  } else {
    EventBatchWriter some;
    for (size_t i = 0; i < n; ++i) {
      if (!fresh[i]) continue;
      size_t begin = i == 0 ? first : ends[i - 1];
      some.AddEncoded(all.data().substr(begin, ends[i] - begin));
    }
    payload = some.Finish();
  }
  Result<uint64_t> off =
      checkpoint == nullptr
          ? log_->Append(RecordType::kEventBatch, payload)
          : log_->Append(RecordType::kConnectorBatch, EncodeConnectorBatch(*checkpoint, payload));
  if (!off.ok()) {
    for (size_t i = 0; i < n; ++i) {
      if (fresh[i] && !(*events)[i].id_assigned) index_.Erase(fps[i]);
    }
    return off.status();
  }
  r.wait_offset = *off;
  return r;
}

Status Ingestor::Snapshot() {
  std::lock_guard<std::mutex> one(snapshot_mu_);
  // The image's memory is touched here, outside the lock, sized for the ids known now
  // plus room for the ones that arrive meanwhile; under the lock only the table is read.
  DedupeIndex::Image image;
  const uint64_t expected = dedupe_size();
  image.occupied.resize((index_.capacity() + 63) / 64);
  image.slots.resize(2 * (expected + expected / 8 + 4096));
  uint64_t covered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    index_.Export(&image);
    covered = log_->end_offset();
  }
  // The image may hold ids whose records are not fsync'd yet; a snapshot must never claim
  // an event the log could still lose, so wait until they are durable before writing it.
  SLUICE_RETURN_IF_ERROR(log_->WaitDurable(covered));
  SLUICE_RETURN_IF_ERROR(DedupeIndex::WriteSnapshot(image, snapshot_path_, covered));
  return log_->CommitConsumerOffset("dedupe", covered);
}

uint64_t Ingestor::dedupe_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.size();
}
uint64_t Ingestor::dedupe_memory_bytes() const { return index_.memory_bytes(); }
uint64_t Ingestor::dedupe_evicted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.evicted();
}
uint64_t Ingestor::dedupe_window() const { return index_.guaranteed_window(); }

}  // namespace sluice
