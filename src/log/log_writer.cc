// Group commit: Append() queues encoded records in memory; one commit thread writes
// whatever has queued, fdatasync()s once, publishes the round's buffer to the tail cache
// (tail_cache.h) and completes every waiter the sync covered.
//
// Under load a sync round takes as long as the disk needs, and everything appended
// meanwhile rides the next round, so the number of fsyncs tracks disk latency rather than
// the request rate. Appenders compute the CRC before taking the lock and only memcpy
// under it; the commit thread swaps the pending buffer with its own (already sized: the tail
// cache recycles them) one, so steady-state appends allocate nothing.
//
// A failed write or sync poisons the log for good. After a failed fsync the kernel may
// have dropped the dirty pages and marked them clean, so a retry could "succeed" without
// the data ever reaching the disk (the 2018 PostgreSQL fsync problem). Waiters get the
// error, later appends get it too, and a restart re-establishes the truth by recovery.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "log/log_files.h"
#include "log/log_impl.h"
#include "log/record_scan.h"

namespace sluice {

LogImpl::~LogImpl() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (commit_thread_.joinable()) commit_thread_.join();  // drains and syncs what is pending
  FailWaitersOnClose();
  active_.Close(commit_status_.ok());  // a failed log writes nothing more, not even a cut
}

Result<uint64_t> LogImpl::Append(RecordType type, std::string_view payload) {
  if (payload.size() > kMaxRecordPayload) {
    return Status::InvalidArgument("log record of " + std::to_string(payload.size()) +
                                   " bytes exceeds the maximum of " +
                                   std::to_string(kMaxRecordPayload));
  }
  char header[kLogHeaderSize];
  EncodeRecordHeader(header, static_cast<uint8_t>(type), payload.data(),
                     static_cast<uint32_t>(payload.size()));
  const uint64_t size = kLogHeaderSize + payload.size();
  uint64_t end;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!append_status_.ok()) return append_status_;
    if (stop_) return Status::Unavailable("log is closing");
    // One record is always let through an idle queue, so a record larger than the limit
    // is slow rather than impossible.
    if (!pending_.empty() && pending_.size() + size > options_.max_pending_bytes) {
      return Status::Unavailable("log write queue full: " + std::to_string(pending_.size()) +
                                 " bytes not yet on disk");
    }
    // A record never spans segments: it opens a new one when it would overflow the
    // active one (unless that is empty, so an oversized record gets a segment to itself).
    if (end_ > active_base_ && end_ - active_base_ + size > options_.segment_bytes) {
      pending_rolls_.push_back(end_);
      active_base_ = end_;
    }
    was_empty = pending_.empty();
    pending_.append(header, kLogHeaderSize);
    pending_.append(payload.data(), payload.size());
    end_ += size;
    end = end_;
  }
  // The commit thread sleeps only on an empty queue, so only the append that ends the
  // emptiness needs to wake it.
  if (was_empty) work_cv_.notify_one();
  return end;
}

void LogImpl::CommitLoop() {
  std::string batch;
  std::vector<uint64_t> rolls;
  int small_rounds = 0;
  while (true) {
    uint64_t start;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) break;  // stopping, and everything is written
      batch.swap(pending_);
      rolls.swap(pending_rolls_);
      start = taken_;
      taken_ = end_;
    }
    if (commit_status_.ok()) {
      Status s = WriteBatch(batch, start, rolls);
      if (s.ok() && options_.fsync) s = SyncActive();
      commit_status_ = s;
    }
    const uint64_t end = start + batch.size();
    // Before Complete(): a reader that sees the new durable offset should find its bytes
    // in memory. The cache takes the buffer and returns one to fill next.
    if (commit_status_.ok()) batch = tail_.Publish(start, std::move(batch));
    Complete(end, commit_status_);
    // Keep the buffer for the next round (regrowing costs page faults on every new page)
    // unless a burst left it far larger than what many rounds since have needed.
    small_rounds =
        batch.capacity() > (64u << 20) && end - start < batch.capacity() / 8 ? small_rounds + 1 : 0;
    if (small_rounds > 64) {
      std::string().swap(batch);
      small_rounds = 0;
    }
    batch.clear();
    rolls.clear();
  }
}

Status LogImpl::WriteBatch(const std::string& batch, uint64_t start,
                           const std::vector<uint64_t>& rolls) {
  size_t pos = 0;
  auto write_upto = [&](size_t upto) -> Status {
    SLUICE_RETURN_IF_ERROR(active_.Append(batch.data() + pos, upto - pos));
    std::lock_guard<std::mutex> lock(seg_mu_);
    segments_.back().size += upto - pos;
    segment_bytes_total_ += upto - pos;
    pos = upto;
    return Status::OK();
  };
  for (uint64_t roll : rolls) {
    SLUICE_RETURN_IF_ERROR(write_upto(static_cast<size_t>(roll - start)));
    SLUICE_RETURN_IF_ERROR(RollSegment(roll));
  }
  return write_upto(batch.size());
}

Status LogImpl::SyncActive() { return active_.Sync(); }

Status LogImpl::RollSegment(uint64_t base) {
  // Seal the full segment before the next one exists, so that recovery can only ever
  // find a torn write in the last segment, and cut the direct writes' zero padding, which
  // only the last segment may have.
  SLUICE_RETURN_IF_ERROR(active_.CutPadding());
  if (options_.fsync) SLUICE_RETURN_IF_ERROR(SyncActive());
  const std::string path = SegmentPath(base);
  // O_EXCL: every segment base lies past all existing ones, so a file already there means
  // something else writes to this directory.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + path, errno);
  ::close(fd);
  SLUICE_RETURN_IF_ERROR(active_.Open(path, 0, options_.direct_io));
  if (options_.fsync) SLUICE_RETURN_IF_ERROR(SyncDir(options_.dir));
  std::lock_guard<std::mutex> lock(seg_mu_);
  segments_.push_back({base, 0});
  return Status::OK();
}

void LogImpl::Complete(uint64_t offset, const Status& s) {
  std::vector<std::function<void(const Status&)>> ready;
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    durable_.store(offset, std::memory_order_release);
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    auto it = waiters_.begin();
    for (; it != waiters_.end() && it->first <= offset; ++it)
      ready.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), it);
  } else {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (append_status_.ok()) append_status_ = s;
    }
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (failed_.ok()) failed_ = s;
    for (auto& [offset, done] : waiters_) ready.push_back(std::move(done));
    waiters_.clear();
  }
  // Outside the lock: a completion may call OnDurable or Append again.
  for (auto& done : ready) done(s);
}

void LogImpl::FailWaitersOnClose() {
  std::vector<std::function<void(const Status&)>> ready;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    closed_ = true;
    for (auto& [offset, done] : waiters_) ready.push_back(std::move(done));
    waiters_.clear();
  }
  // Only offsets never appended can still be waiting: everything appended was drained.
  const Status s = Status::Unavailable("log closed before the offset became durable");
  for (auto& done : ready) done(s);
}

void LogImpl::OnDurable(uint64_t offset, std::function<void(const Status&)> done) {
  Status s;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    // What was synced before a failure stays durable; only later offsets get the error.
    if (offset > durable_.load(std::memory_order_relaxed)) {
      if (!failed_.ok()) {
        s = failed_;
      } else if (closed_) {
        s = Status::Unavailable("log closed before the offset became durable");
      } else {
        waiters_.emplace(offset, std::move(done));
        return;
      }
    }
  }
  done(s);
}

Status LogImpl::WaitDurable(uint64_t offset) {
  std::mutex m;
  std::condition_variable cv;
  bool fired = false;
  Status result;
  OnDurable(offset, [&](const Status& s) {
    // Notify under the lock: once the waiter can see `fired`, it may return and destroy
    // `m` and `cv`, so nothing here may touch them after unlocking.
    std::lock_guard<std::mutex> lock(m);
    result = s;
    fired = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return fired; });
  return result;
}

}  // namespace sluice
