// Ingestor: the one path every event takes into sluice — HTTP push, `sluice import` and
// (later) connectors. It enforces two guarantees of SPEC §1 in one critical section:
//
//   §1.2 exactly-once: each event's (tenant, event_id) fingerprint is inserted into the
//        DedupeIndex; an id already present is counted as a duplicate and not logged.
//   §1.1 durable acks: the surviving events are appended to the Log as one record, and
//        the caller acknowledges only after Log::OnDurable(wait_offset) fires.
//
// Insert and append happen under one mutex so that a duplicate seen by request B is always
// in a log record at or below B's wait_offset: B never acks "duplicate" for an event whose
// first copy could still be lost. If the append fails the inserts are rolled back.
//
// The index survives restarts through snapshots (DedupeIndex::SaveSnapshot) plus a replay
// of the log from the snapshot's offset. The snapshot is a log consumer named "dedupe", so
// segments it has not covered are kept.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/connector_batch.h"
#include "ingest/dedupe_index.h"
#include "ingest/event.h"
#include "log/log.h"

namespace sluice {

struct SubmitResult {
  size_t accepted = 0;
  size_t duplicates = 0;
  uint64_t wait_offset = 0;  // ack once the log is durable up to here
};

class Ingestor {
 public:
  Ingestor(Log* log, uint64_t dedupe_capacity_slots, std::string snapshot_path);

  // Loads the dedupe snapshot (if any) and replays the log after it. Call once, before
  // Submit. Reports how many ids were replayed.
  Status Recover(uint64_t* replayed_ids);

  // Dedupes and logs `events` (whose order is kept). On error nothing was logged and the
  // index is unchanged. `events` is consumed.
  Result<SubmitResult> Submit(std::vector<Event>* events);

  // Submit for a pull connector: the fresh events and `checkpoint` go into one
  // kConnectorBatch record (connector_batch.h), appended even when every event was a
  // duplicate, so the checkpoint moves atomically with the events it covers.
  Result<SubmitResult> SubmitConnectorBatch(const ConnectorCheckpoint& checkpoint,
                                            std::vector<Event>* events);

  // Writes a dedupe snapshot covering everything durable so far and moves the "dedupe"
  // consumer offset, letting the log drop segments the snapshot covers.
  Status Snapshot();

  uint64_t dedupe_size() const;
  uint64_t dedupe_memory_bytes() const;
  uint64_t dedupe_evicted() const;
  uint64_t dedupe_window() const;

 private:
  // Dedupes and appends; `checkpoint` non-null makes it a kConnectorBatch record.
  Result<SubmitResult> SubmitRecord(std::vector<Event>* events,
                                    const ConnectorCheckpoint* checkpoint);

  Log* log_;
  std::string snapshot_path_;
  mutable std::mutex mu_;  // guards index_ and orders insert+append
  DedupeIndex index_;
  std::mutex snapshot_mu_;  // one snapshot at a time
};

}  // namespace sluice
