// SegmentWriter: appends records to the active segment file, through O_DIRECT when the
// file system allows it.
//
// Why direct I/O: on this machine's disk (ext4 on a virtio block device) the page cache's
// writeback is the log's floor. A probe of sequential 1 MiB writes, each followed by
// fdatasync, gave 223 MB/s and 6.0 ms p50 buffered against 911 MB/s and 0.9 ms p50 with
// O_DIRECT; 4 KiB writes 0.63 / 5.0 ms p50 / p99 against 0.31 / 1.5 ms (bench/README.md,
// session 14). Group commit waits for that sync, so its latency is the ack latency.
//
// O_DIRECT needs block-aligned file offsets, lengths and memory, but records end
// anywhere. The writer keeps the last, partial block in memory and writes it again, with
// the next records after it, at the next commit, padded with zeros to a whole block.
// PostgreSQL rewrites its current WAL page the same way. The bytes of that block that are
// already durable are rewritten unchanged, so a torn rewrite can only leave sectors that
// are either old or new, and both hold them.
//
// The file is therefore up to one block longer than its records: zeros. CutPadding()
// (when the log seals a segment) and Close() cut it back to the records; after a crash, recovery
// drops a zero tail shorter than a block without calling it damage (log_recovery.cc). Readers never
// see the padding: they address the log by the record sizes the log keeps in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace sluice {

class SegmentWriter {
 public:
  static constexpr size_t kBlock = 4096;  // alignment of every direct write

  SegmentWriter() = default;
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Opens `path` (created if missing) whose first `size` bytes are records and whose
  // length is exactly `size`. With `direct` it tries O_DIRECT and falls back to buffered
  // writes where the file system refuses it.
  Status Open(const std::string& path, uint64_t size, bool direct);

  // Writes n bytes after the last ones. Not durable until Sync().
  Status Append(const char* data, size_t n);
  Status Sync();  // fdatasync
  // Cuts the padding so the file holds exactly its records. Sync() makes the cut durable.
  Status CutPadding();
  // Closes the file, first cutting the padding (best effort: recovery would drop it
  // anyway) unless the log failed, after which nothing more is written.
  void Close(bool cut_padding = true);

  // Whether direct I/O on this file (opened with O_DIRECT) takes kBlock alignment.
  static bool DirectAlignmentFits(int fd);

 private:
  Status WriteAligned(size_t len);  // writes stage_[0, len) padded at the tail's block
  Status Reserve(size_t bytes);     // stage_ holds at least `bytes`, keeping its tail

  struct FreeAligned {
    void operator()(char* p) const;
  };

  int fd_ = -1;
  std::string path_;
  bool direct_ = false;
  uint64_t size_ = 0;    // bytes of records in the file
  bool padded_ = false;  // the file is longer than size_
  // Direct mode: stage_[0, size_ % kBlock) is the partial last block as it is on disk.
  std::unique_ptr<char, FreeAligned> stage_;
  size_t stage_cap_ = 0;
};

}  // namespace sluice
