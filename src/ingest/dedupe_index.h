// DedupeIndex: remembers which (tenant, event_id) pairs were already logged, so that the
// same event delivered again is acknowledged as a duplicate and never written twice
// (SPEC §1.2). Enforced before the log append (ingest/ingestor.h).
//
// Keys are 128-bit fingerprints (common/fingerprint.h) of which 125 bits are compared: the
// low 3 bits of each slot hold its generation. A match is trusted without verification:
// a false match among 1e9 ids is ~n^2/2^126 ~ 1.2e-20 likely (SPEC asks <= 1e-12).
//
// Memory is fixed by configuration: an open-addressing table of 16-byte slots, linear
// probing, at most 80% full. The window is bounded by count: ids are grouped into
// generations (kGenerations); when the table reaches its fill limit, the oldest generation
// is evicted, so the index always remembers at least the most recent
// capacity * 0.8 * (kGenerations-1)/kGenerations ids. Bytes per remembered id stay under
// 24 (see README "Dedupe window"). Eviction is one pass over the whole table, with no
// tombstones left behind, inside the Insert that fills a generation: ~0.11 s at 2^24
// slots, once every capacity/10 inserts, under the caller's lock.
//
// Not thread-safe: the ingestor serializes access.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/fingerprint.h"
#include "common/status.h"

namespace sluice {

class DedupeIndex {
 public:
  static constexpr int kGenerations = 8;
  // `capacity_slots` slots of 16 bytes (min 1024); any size, not only powers of two.
  explicit DedupeIndex(uint64_t capacity_slots);
  ~DedupeIndex();
  DedupeIndex(const DedupeIndex&) = delete;
  DedupeIndex& operator=(const DedupeIndex&) = delete;

  // Inserts fp if absent. Returns true if it was inserted (new), false if already present.
  bool Insert(const Fingerprint& fp);
  bool Contains(const Fingerprint& fp) const;
  // Removes fp (used to roll back inserts whose log append failed).
  void Erase(const Fingerprint& fp);

  uint64_t size() const;          // ids currently remembered
  uint64_t capacity() const;      // slots
  uint64_t memory_bytes() const;  // bytes held by the table
  uint64_t evicted() const;       // ids forgotten by generation eviction so far
  // The guaranteed window: ids always remembered, most recent first.
  uint64_t guaranteed_window() const;

  // Makes this index a copy of `other`, which must have the same capacity, so a snapshot
  // can be written to disk outside the ingestor's lock. The ingestor builds the target
  // (mapping and faulting its table) before taking its lock, so only the memcpy holds up
  // ingest.
  void CopyFrom(const DedupeIndex& other);

  // Snapshot: writes the table and `log_offset` (the log position the snapshot covers)
  // to `path` atomically (temp file, fsync, rename). Load returns the covered offset; the
  // caller replays the log from there to catch up.
  Status SaveSnapshot(const std::string& path, uint64_t log_offset) const;
  Result<uint64_t> LoadSnapshot(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
