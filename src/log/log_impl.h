// LogImpl: the one Log implementation (log.h), private to src/log/.
//
// Split by concern: log.cc opens and owns the segment table, log_writer.cc is group
// commit and durability waiters, log_reader.cc reads, consumer_offsets.cc persists
// consumer offsets and deletes consumed segments, log_recovery.cc repairs at Open.
//
// Locks are never held while taking another one, so there is no lock order to get wrong:
//   mu_           pending tail and end offset (Append; the commit thread swaps it out)
//   waiters_mu_   durable offset, failure status and OnDurable waiters, together, so a
//                 waiter is either registered before a completion or sees its result
//   seg_mu_       segment table and damaged ranges (commit thread adds, GC removes,
//                 readers look up)
//   consumers_mu_ consumer offsets in memory
//   consumer_files_mu_  serializes consumer file writes with GC, so a consumer that
//                 registers at start_offset() cannot lose its segment to a concurrent GC
//   TailCache's own lock: the newest durable chunks (commit thread adds, readers look up)
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/log.h"
#include "log/log_recovery.h"
#include "log/segment_writer.h"
#include "log/tail_cache.h"

namespace sluice {

class LogImpl : public Log {
 public:
  // What a reader needs to know about the segment holding an offset.
  struct Location {
    uint64_t base;       // the segment's first offset
    uint64_t end;        // past its last addressable byte
    uint64_t next_base;  // the next segment's base; UINT64_MAX for the active segment
    uint64_t skip_to;    // the end of a damaged range containing the offset, else 0
  };

  static Result<std::unique_ptr<Log>> Open(const LogOptions& options, RecoveryReport* report);
  ~LogImpl() override;

  Result<uint64_t> Append(RecordType type, std::string_view payload) override;
  void OnDurable(uint64_t offset, std::function<void(const Status&)> done) override;
  Status WaitDurable(uint64_t offset) override;
  uint64_t start_offset() const override;
  uint64_t end_offset() const override;
  uint64_t durable_offset() const override { return durable_.load(std::memory_order_acquire); }
  uint64_t disk_bytes() const override;
  uint64_t fsyncs() const override { return fsyncs_.load(std::memory_order_relaxed); }
  std::unique_ptr<LogReader> NewReader(uint64_t from) override;
  Result<uint64_t> RegisterConsumer(const std::string& name) override;
  Status CommitConsumerOffset(const std::string& name, uint64_t offset) override;
  uint64_t MinConsumerOffset() const override;
  Status CollectGarbage() override;

  // False if `offset` precedes the oldest retained segment (deleted by GC).
  bool Locate(uint64_t offset, Location* loc) const;
  std::string SegmentPath(uint64_t base) const;
  // The in-memory chunk holding `offset` if it is among the newest durable bytes, else null.
  std::shared_ptr<const TailChunk> RecentChunk(uint64_t offset) const { return tail_.Find(offset); }

 private:
  struct Segment {
    uint64_t base;
    uint64_t size;  // bytes written to it so far
  };

  explicit LogImpl(const LogOptions& options);
  Status Init(RecoveredLog recovered, RecoveryReport* report);

  // log_writer.cc
  void CommitLoop();
  Status WriteBatch(const std::string& batch, uint64_t start, const std::vector<uint64_t>& rolls);
  Status RollSegment(uint64_t base);
  Status SyncActive();
  void Complete(uint64_t offset, const Status& s);
  void FailWaitersOnClose();

  // consumer_offsets.cc
  Status LoadConsumers(RecoveryReport* report);
  Status PersistConsumerOffset(const std::string& name, uint64_t offset);

  const LogOptions options_;

  // Commit thread only (after Open).
  SegmentWriter active_;  // the active segment
  Status commit_status_;  // sticky: once a write or sync fails nothing more is written
  std::thread commit_thread_;
  TailCache tail_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::string pending_;                  // encoded records not yet handed to the commit thread
  std::vector<uint64_t> pending_rolls_;  // offsets in pending_ where a new segment starts
  uint64_t active_base_ = 0;             // segment the next appended record goes to
  uint64_t end_ = 0;                     // past the last appended record
  uint64_t taken_ = 0;                   // past the last byte the commit thread took
  bool stop_ = false;
  Status append_status_;  // the commit failure Append reports

  std::mutex waiters_mu_;
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> fsyncs_{0};
  Status failed_;
  bool closed_ = false;
  std::multimap<uint64_t, std::function<void(const Status&)>> waiters_;

  mutable std::mutex seg_mu_;
  std::vector<Segment> segments_;         // ascending; never empty after Open
  uint64_t segment_bytes_total_ = 0;      // sum of segments_[i].size
  std::map<uint64_t, uint64_t> damaged_;  // from recovery: start -> end, readers skip

  mutable std::mutex consumers_mu_;
  std::map<std::string, uint64_t> consumers_;
  std::mutex consumer_files_mu_;
};

}  // namespace sluice
