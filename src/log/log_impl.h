// LogImpl: the one Log implementation (log.h). Private to src/log/.
//
// Locks, never nested except waiters_mu_ -> mu_ on the failure path:
//   mu_           the pending tail (Append) and the end offset
//   waiters_mu_   durable offset + OnDurable waiters (so no wake-up is missed)
//   seg_mu_       the segment list (commit thread adds, GC removes, readers look up)
//   consumers_mu_ consumer offsets in memory
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/log.h"

namespace sluice {

class LogImpl : public Log {
 public:
  struct Segment {
    uint64_t base;
    uint64_t size;  // bytes written to it so far
  };

  explicit LogImpl(const LogOptions& options);
  ~LogImpl() override;

  Result<uint64_t> Append(RecordType type, std::string_view payload) override;
  void OnDurable(uint64_t offset, std::function<void(const Status&)> done) override;
  Status WaitDurable(uint64_t offset) override;
  uint64_t start_offset() const override;
  uint64_t end_offset() const override;
  uint64_t durable_offset() const override { return durable_.load(); }
  uint64_t disk_bytes() const override;
  uint64_t fsyncs() const override { return fsyncs_.load(); }
  std::unique_ptr<LogReader> NewReader(uint64_t from) override;
  Result<uint64_t> RegisterConsumer(const std::string& name) override;
  Status CommitConsumerOffset(const std::string& name, uint64_t offset) override;
  uint64_t MinConsumerOffset() const override;
  Status CollectGarbage() override;

  // The segment holding `offset` (false if it was deleted or precedes the log).
  bool FindSegment(uint64_t offset, Segment* seg, bool* is_last, uint64_t* next_base) const;
  std::string SegmentPath(uint64_t base) const;

 private:
  friend class Log;
  void Start();
  void CommitLoop();
  Status WriteBatch(const std::string& batch, uint64_t start, const std::vector<uint64_t>& rolls);
  void CompleteUpTo(uint64_t offset, const Status& s);
  Status LoadConsumers();

  const LogOptions options_;
  int fd_ = -1;  // active segment; commit thread only after Open

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::string pending_;                  // records appended, not yet written
  std::vector<uint64_t> pending_rolls_;  // offsets in pending_ where a new segment starts
  uint64_t pending_base_ = 0;            // base of the segment the next record goes to
  uint64_t end_ = 0;                     // offset after the last appended record
  uint64_t written_ = 0;                 // offset up to which the commit thread took bytes
  bool stop_ = false;
  Status failed_;

  std::mutex waiters_mu_;
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::multimap<uint64_t, std::function<void(const Status&)>> waiters_;

  mutable std::mutex seg_mu_;
  std::vector<Segment> segments_;

  mutable std::mutex consumers_mu_;
  std::mutex consumer_write_mu_;
  std::map<std::string, uint64_t> consumers_;

  std::thread thread_;
};

}  // namespace sluice
