// TailCache: the newest durable log bytes, kept in memory for readers that follow the head.
//
// Why: the log is written with O_DIRECT (segment_writer.h), so its bytes are not in the
// page cache, and every consumer (store, rollups) used to pread them back from the disk:
// ~250 bytes per event per consumer, a third of the rollup thread's CPU in copies from the
// kernel, and disk reads competing with the fsyncs that acks wait for. Consumers that keep
// up read records a few milliseconds after their commit, so the commit thread's own
// buffer of each round is published here instead of being thrown away, and readers take
// their records straight from it (log_reader.cc).
//
// A chunk is exactly what one group commit wrote: whole records, [base, base + size).
// Chunks are immutable once published and reference counted, so a reader holds one
// without any lock while it walks its records. Chunks ascend but may leave gaps (a
// round too large to keep). The oldest chunks are dropped once the
// chunks together hold more than the capacity; a reader that falls behind that reads
// from the segment files as before. A dropped chunk no reader holds gives its buffer back
// to the commit thread, so steady-state commits allocate nothing.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace sluice {

struct TailChunk {
  uint64_t base = 0;  // log offset of bytes[0], a record boundary
  std::string bytes;  // whole records

  uint64_t end() const { return base + bytes.size(); }
  bool Holds(uint64_t offset) const { return offset >= base && offset < end(); }
};

class TailCache {
 public:
  explicit TailCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}
  TailCache(const TailCache&) = delete;
  TailCache& operator=(const TailCache&) = delete;

  // Commit thread: `bytes`, starting at log offset `base`, are durable. Takes them and
  // returns an empty buffer to fill next (a recycled one where possible). A buffer larger
  // than the capacity (so any, with capacity 0) is not kept but handed back cleared.
  std::string Publish(uint64_t base, std::string&& bytes);

  // The chunk holding `offset`, or null if it is older (or newer) than what is kept.
  std::shared_ptr<const TailChunk> Find(uint64_t offset) const;

  uint64_t bytes_held() const;  // buffer capacity of the kept chunks

 private:
  // Buffers larger than this are freed rather than recycled: a burst must not leave the
  // log holding its peak forever.
  static constexpr size_t kMaxRecycled = 16u << 20;

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<TailChunk>> chunks_;  // ascending
  uint64_t held_ = 0;
  std::string spare_;  // the largest buffer dropped since the last Publish, returned by it
};

}  // namespace sluice
