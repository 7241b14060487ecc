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
#include <vector>

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
  // Starts loading fp's home slot into the cache. Inserting a batch is a cache (and TLB)
  // miss per id into a table of hundreds of MB; prefetching a few ids ahead overlaps them.
  void Prefetch(const Fingerprint& fp) const;
  // Removes fp (used to roll back inserts whose log append failed).
  void Erase(const Fingerprint& fp);

  uint64_t size() const;          // ids currently remembered
  uint64_t capacity() const;      // slots
  uint64_t memory_bytes() const;  // bytes held by the table
  uint64_t evicted() const;       // ids forgotten by generation eviction so far
  // The guaranteed window: ids always remembered, most recent first.
  uint64_t guaranteed_window() const;

  // What a snapshot holds: the counters, a bitmap of the occupied slots and those slots'
  // contents in slot order. That is 16 bytes per remembered id plus one bit per slot,
  // where a copy of the table is 16 bytes per slot: at the default 2^24 slots holding
  // 20K ids, 2.4 MB instead of 256 MiB to build, write and fsync.
  struct Image {
    uint64_t capacity = 0;
    uint64_t size = 0;
    uint64_t evicted = 0;
    uint32_t current_gen = 0;
    uint64_t gen_count[kGenerations] = {};
    std::vector<uint64_t> occupied;  // bit i % 64 of word i / 64: slot i holds an id
    std::vector<uint64_t> slots;     // (lo, hi) of each occupied slot, in slot order
  };

  // Fills `image` from the index in one pass over the table; the ingestor calls it under
  // its lock. Vectors already sized by the caller are reused, so their pages can be
  // touched outside the lock (Ingestor::Snapshot).
  void Export(Image* image) const;

  // Snapshot: writes `image` and `log_offset` (the log position the snapshot covers) to
  // `path` atomically (temp file, fsync, rename). Load returns the covered offset; the
  // caller replays the log from there to catch up. Load also reads the version-1 format
  // (the whole table), which sluice wrote before.
  static Status WriteSnapshot(const Image& image, const std::string& path, uint64_t log_offset);
  Status SaveSnapshot(const std::string& path, uint64_t log_offset) const;  // Export + Write
  Result<uint64_t> LoadSnapshot(const std::string& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice
