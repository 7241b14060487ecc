// Opening a log and its segment table: which segment files exist, how big they are, and
// which segment (or damaged range) holds a given offset.
#include "log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/thread_name.h"
#include "log/log_files.h"
#include "log/log_impl.h"

namespace sluice {

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, RecoveryReport* report) {
  return LogImpl::Open(options, report);
}

Result<std::unique_ptr<Log>> LogImpl::Open(const LogOptions& options, RecoveryReport* report) {
  RecoveryReport ignored;
  if (report == nullptr) report = &ignored;
  *report = RecoveryReport();
  if (options.dir.empty()) return Status::InvalidArgument("log directory not set");
  SLUICE_RETURN_IF_ERROR(CreateDirs(options.dir + "/consumers"));
  RecoveredLog recovered;
  SLUICE_RETURN_IF_ERROR(RecoverLog(options.dir, &recovered, report));
  std::unique_ptr<LogImpl> log(new LogImpl(options));
  SLUICE_RETURN_IF_ERROR(log->Init(std::move(recovered), report));
  return std::unique_ptr<Log>(std::move(log));
}

LogImpl::LogImpl(const LogOptions& options) : options_(options), tail_(options.tail_cache_bytes) {}

Status LogImpl::Init(RecoveredLog recovered, RecoveryReport* report) {
  if (recovered.segments.empty()) recovered.segments.push_back({0, 0});
  for (const RecoveredSegment& s : recovered.segments) {
    segments_.push_back({s.base, s.size});
    segment_bytes_total_ += s.size;
  }
  damaged_ = std::move(recovered.damaged);
  const Segment& active = segments_.back();
  const std::string path = SegmentPath(active.base);
  SLUICE_RETURN_IF_ERROR(active_.Open(path, active.size, options_.direct_io));
  // Covers the segment just created, recovery's truncations and the consumers/ folder;
  // the parent in case the log folder itself is new.
  SLUICE_RETURN_IF_ERROR(SyncDir(options_.dir));
  const size_t slash = options_.dir.find_last_of('/');
  SLUICE_RETURN_IF_ERROR(SyncDir(slash == std::string::npos ? std::string(".")
                                 : slash == 0               ? std::string("/")
                                                            : options_.dir.substr(0, slash)));
  active_base_ = active.base;
  end_ = taken_ = active.base + active.size;
  durable_.store(end_);
  SLUICE_RETURN_IF_ERROR(LoadConsumers(report));
  commit_thread_ = std::thread([this] {
    SetCurrentThreadName("log-commit");
    CommitLoop();
  });
  return Status::OK();
}

std::string LogImpl::SegmentPath(uint64_t base) const {
  return options_.dir + "/" + SegmentFileName(base);
}

uint64_t LogImpl::start_offset() const {
  std::lock_guard<std::mutex> lock(seg_mu_);
  return segments_.front().base;
}

uint64_t LogImpl::end_offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return end_;
}

uint64_t LogImpl::disk_bytes() const {
  std::lock_guard<std::mutex> lock(seg_mu_);
  return segment_bytes_total_;
}

bool LogImpl::Locate(uint64_t offset, Location* loc) const {
  std::lock_guard<std::mutex> lock(seg_mu_);
  auto next = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](uint64_t o, const Segment& s) { return o < s.base; });
  if (next == segments_.begin()) return false;
  const Segment& seg = *std::prev(next);
  loc->base = seg.base;
  loc->next_base = next == segments_.end() ? UINT64_MAX : next->base;
  loc->end = std::min(seg.base + seg.size, loc->next_base);
  loc->skip_to = 0;
  auto d = damaged_.upper_bound(offset);
  if (d != damaged_.begin() && offset < std::prev(d)->second) loc->skip_to = std::prev(d)->second;
  return true;
}

}  // namespace sluice
