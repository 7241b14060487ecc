// The write-ahead log: where an accepted event becomes durable (SPEC §1.1, §4 "log").
//
// data_dir/log/ holds segment files named by the global byte offset of their first byte
// (%020llu.seg). A record is [masked crc32c:4][length:4][type:1][payload:length]; the CRC
// covers type and payload (see log_format.h). Offsets are global byte positions, so an
// offset names both a segment and a position in it and only ever grows.
//
// Group commit: Append() copies a record into an in-memory tail and returns the offset
// just past it; one commit thread writes the tail and fdatasync()s it, then completes
// every waiter whose offset the sync covered. Concurrent requests therefore share fsyncs,
// and an HTTP 2xx is sent only from a completion (server/), never before.
//
// Recovery (Open): every segment is scanned; a torn or corrupt tail is cut off, a corrupt
// record followed by valid ones is skipped, and both are reported.
//
// Consumers (store, dedupe snapshot, ...) read durable records with a LogReader and report
// the offset up to which they have made their effect durable elsewhere. A segment is
// deleted once every registered consumer has passed its end.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "log/log_format.h"

namespace sluice {

struct LogOptions {
  std::string dir;                        // created if missing
  uint64_t segment_bytes = 128ull << 20;  // roll to a new segment past this size
  bool fsync = true;                      // false only in unit tests that measure nothing durable
  bool direct_io = true;  // O_DIRECT appends where the file system allows (segment_writer.h)
  uint64_t max_pending_bytes = 256ull << 20;  // Append() fails with Unavailable past this
  // The newest durable bytes kept in memory for readers that follow the head (tail_cache.h);
  // 0 = readers always read the segment files.
  uint64_t tail_cache_bytes = 128ull << 20;
};

// What Open() found and repaired; logged at start-up.
struct RecoveryReport {
  int segments = 0;
  uint64_t records = 0;
  uint64_t truncated_bytes = 0;    // cut off a torn/corrupt tail
  uint64_t skipped_bytes = 0;      // corrupt bytes skipped between valid records
  uint64_t padding_bytes = 0;      // zeros a direct write left after the last record, cut
  std::vector<std::string> notes;  // one human-readable line per repair
};

struct LogRecord {
  RecordType type;
  std::string_view payload;  // valid until the next call on the reader
  uint64_t offset;           // of the record's first header byte
  uint64_t end_offset;       // just past the record; what a consumer commits
};

class LogReader {
 public:
  virtual ~LogReader() = default;
  // Reads the next durable record. Returns false with ok() status when caught up with
  // the durable end; false with an error status on I/O failure or corruption.
  virtual bool Next(LogRecord* rec, Status* status) = 0;
  virtual uint64_t position() const = 0;
};

class Log {
 public:
  static Result<std::unique_ptr<Log>> Open(const LogOptions& options, RecoveryReport* report);
  virtual ~Log() = default;  // implementations flush and fsync pending records, then stop

  // Thread-safe. Queues the record; returns the offset just past it. Not durable yet.
  // Unavailable when the pending tail exceeds max_pending_bytes (backpressure).
  virtual Result<uint64_t> Append(RecordType type, std::string_view payload) = 0;
  // Calls done(status) (on the commit thread) once every byte up to `offset` is fsync'd,
  // or with the error if the write/sync failed. Immediately if already durable.
  virtual void OnDurable(uint64_t offset, std::function<void(const Status&)> done) = 0;
  virtual Status WaitDurable(uint64_t offset) = 0;  // blocking form of OnDurable

  virtual uint64_t start_offset() const = 0;    // oldest byte still on disk
  virtual uint64_t end_offset() const = 0;      // appended, maybe not durable
  virtual uint64_t durable_offset() const = 0;  // fsync'd
  virtual uint64_t disk_bytes() const = 0;      // sum of segment file sizes
  virtual uint64_t fsyncs() const = 0;          // how many group commits so far

  // A reader over durable records starting at `from` (a record boundary, e.g. a
  // committed consumer offset or start_offset()).
  virtual std::unique_ptr<LogReader> NewReader(uint64_t from) = 0;

  // Consumers. An offset is persisted (write temp, fsync, rename) in dir/consumers/NAME.
  // Registering an unknown consumer starts it at start_offset().
  virtual Result<uint64_t> RegisterConsumer(const std::string& name) = 0;
  virtual Status CommitConsumerOffset(const std::string& name, uint64_t offset) = 0;
  // The smallest committed offset over all consumers (end_offset() if none).
  virtual uint64_t MinConsumerOffset() const = 0;
  // Deletes segments wholly below MinConsumerOffset(); never the active segment.
  virtual Status CollectGarbage() = 0;
};

}  // namespace sluice
