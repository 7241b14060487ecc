// The Log implementation: segments, recovery, group commit and consumer offsets.
// See log.h for the contract; log_reader.cc reads what this writes.
#include "log/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "common/crc32c.h"
#include "log/log_impl.h"
#include "log/record_scan.h"

namespace sluice {

namespace {

std::string SegmentName(uint64_t base) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(base));
  return buf;
}

bool ParseSegmentName(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) return false;
  for (int i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  *base = std::strtoull(name.c_str(), nullptr, 10);
  return true;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open dir " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("fsync dir " + dir, err);
  return Status::OK();
}

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("mkdir " + dir, errno);
  }
  return Status::OK();
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + what, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

bool ValidConsumerName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return name != "." && name != "..";
}

}  // namespace

// Scans one segment: counts valid records, notes damage. For the last segment a damaged
// tail with no valid record after it is cut off (a torn write); elsewhere damaged ranges
// are skipped (readers apply the same rule, see record_scan.h).
static Status RecoverSegment(const std::string& path, uint64_t base, bool last,
                             RecoveryReport* report, uint64_t* valid_end) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  const char* data = nullptr;
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("mmap " + path, err);
    }
    data = static_cast<const char*>(m);
  }
  size_t pos = 0;
  size_t end_of_valid = 0;
  while (pos < size) {
    size_t total = 0;
    RecordCheck c = CheckRecord(data + pos, size - pos, &total);
    if (c == RecordCheck::kValid) {
      pos += total;
      end_of_valid = pos;
      ++report->records;
      continue;
    }
    size_t next = pos + FindNextValidRecord(data + pos, size - pos);
    if (next >= size) break;  // nothing valid after: a tail
    report->skipped_bytes += next - pos;
    report->notes.push_back("corrupt bytes " + std::to_string(pos) + ".." + std::to_string(next) +
                            " of " + path + " skipped; valid records follow (offset " +
                            std::to_string(base + pos) + ")");
    pos = next;
  }
  if (data) ::munmap(const_cast<char*>(data), size);
  Status s;
  if (end_of_valid < size) {
    const uint64_t cut = size - end_of_valid;
    if (last) {
      report->truncated_bytes += cut;
      report->notes.push_back("torn or corrupt tail of " + std::to_string(cut) + " bytes cut off " +
                              path + " at byte " + std::to_string(end_of_valid) + " (offset " +
                              std::to_string(base + end_of_valid) + ")");
      if (::ftruncate(fd, static_cast<off_t>(end_of_valid)) != 0 || ::fsync(fd) != 0) {
        s = Status::FromErrno("truncate " + path, errno);
      }
    } else {
      report->skipped_bytes += cut;
      report->notes.push_back("corrupt tail of " + std::to_string(cut) +
                              " bytes in sealed segment " + path + " skipped");
    }
  }
  ::close(fd);
  *valid_end = last ? end_of_valid : size;
  return s;
}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, RecoveryReport* report) {
  *report = RecoveryReport();
  // Parent folders first (data_dir/log), then our own.
  std::string parent = options.dir.substr(0, options.dir.find_last_of('/'));
  if (!parent.empty() && parent != options.dir) SLUICE_RETURN_IF_ERROR(MakeDir(parent));
  SLUICE_RETURN_IF_ERROR(MakeDir(options.dir));
  SLUICE_RETURN_IF_ERROR(MakeDir(options.dir + "/consumers"));

  std::vector<uint64_t> bases;
  DIR* d = ::opendir(options.dir.c_str());
  if (!d) return Status::FromErrno("opendir " + options.dir, errno);
  while (struct dirent* ent = ::readdir(d)) {
    uint64_t base;
    if (ParseSegmentName(ent->d_name, &base)) bases.push_back(base);
  }
  ::closedir(d);
  std::sort(bases.begin(), bases.end());

  auto impl = std::unique_ptr<LogImpl>(new LogImpl(options));
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    const std::string path = options.dir + "/" + SegmentName(bases[i]);
    uint64_t valid_end = 0;
    SLUICE_RETURN_IF_ERROR(RecoverSegment(path, bases[i], last, report, &valid_end));
    impl->segments_.push_back({bases[i], valid_end});
    ++report->segments;
  }
  if (impl->segments_.empty()) impl->segments_.push_back({0, 0});
  const LogImpl::Segment& active = impl->segments_.back();
  const std::string active_path = options.dir + "/" + SegmentName(active.base);
  impl->fd_ = ::open(active_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (impl->fd_ < 0) return Status::FromErrno("open " + active_path, errno);
  SLUICE_RETURN_IF_ERROR(SyncDir(options.dir));
  impl->end_ = impl->durable_ = impl->written_ = active.base + active.size;
  impl->pending_base_ = active.base;
  SLUICE_RETURN_IF_ERROR(impl->LoadConsumers());
  impl->Start();
  return std::unique_ptr<Log>(std::move(impl));
}

LogImpl::LogImpl(const LogOptions& options) : options_(options) {}

LogImpl::~LogImpl() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void LogImpl::Start() {
  thread_ = std::thread([this] { CommitLoop(); });
}

std::string LogImpl::SegmentPath(uint64_t base) const {
  return options_.dir + "/" + SegmentName(base);
}

Result<uint64_t> LogImpl::Append(RecordType type, std::string_view payload) {
  if (payload.size() > kMaxRecordPayload) {
    return Status::InvalidArgument("log record of " + std::to_string(payload.size()) +
                                   " bytes exceeds the maximum");
  }
  char header[kLogHeaderSize];
  EncodeRecordHeader(header, static_cast<uint8_t>(type), payload.data(),
                     static_cast<uint32_t>(payload.size()));
  const uint64_t size = kLogHeaderSize + payload.size();
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (stop_) return Status::Unavailable("the log is closing");
  if (pending_.size() + size > options_.max_pending_bytes && !pending_.empty()) {
    return Status::Unavailable("log write queue is full (" + std::to_string(pending_.size() >> 20) +
                               " MiB not yet on disk)");
  }
  // A record never spans segments: roll when this one would overflow a non-empty segment.
  if (end_ - pending_base_ + size > options_.segment_bytes && end_ > pending_base_) {
    pending_rolls_.push_back(end_);
    pending_base_ = end_;
  }
  pending_.append(header, kLogHeaderSize);
  pending_.append(payload.data(), payload.size());
  end_ += size;
  work_cv_.notify_one();
  return end_;
}

void LogImpl::CommitLoop() {
  std::string batch;
  std::vector<uint64_t> rolls;
  while (true) {
    uint64_t batch_start;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
      if (pending_.empty() && stop_) break;
      batch.swap(pending_);
      pending_.clear();
      rolls.swap(pending_rolls_);
      pending_rolls_.clear();
      batch_start = written_;
      written_ = end_;
    }
    Status s = WriteBatch(batch, batch_start, rolls);
    if (s.ok() && options_.fsync && ::fdatasync(fd_) != 0) {
      s = Status::FromErrno("fdatasync " + SegmentPath(segments_.back().base), errno);
    }
    CompleteUpTo(batch_start + batch.size(), s);
    batch.clear();
    rolls.clear();
  }
}

Status LogImpl::WriteBatch(const std::string& batch, uint64_t start,
                           const std::vector<uint64_t>& rolls) {
  size_t pos = 0;
  for (uint64_t roll : rolls) {
    const size_t upto = static_cast<size_t>(roll - start);
    SLUICE_RETURN_IF_ERROR(WriteAll(fd_, batch.data() + pos, upto - pos, "log segment"));
    {
      std::lock_guard<std::mutex> lock(seg_mu_);
      segments_.back().size += upto - pos;
    }
    pos = upto;
    // Seal the full segment durably before the next one exists, so recovery only ever
    // finds a torn tail in the last segment.
    if (options_.fsync && ::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync", errno);
    ::close(fd_);
    const std::string path = SegmentPath(roll);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno("open " + path, errno);
    if (options_.fsync) SLUICE_RETURN_IF_ERROR(SyncDir(options_.dir));
    std::lock_guard<std::mutex> lock(seg_mu_);
    segments_.push_back({roll, 0});
  }
  SLUICE_RETURN_IF_ERROR(WriteAll(fd_, batch.data() + pos, batch.size() - pos, "log segment"));
  std::lock_guard<std::mutex> lock(seg_mu_);
  segments_.back().size += batch.size() - pos;
  return Status::OK();
}

void LogImpl::CompleteUpTo(uint64_t offset, const Status& s) {
  std::vector<std::function<void(const Status&)>> ready;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (s.ok()) {
      durable_.store(offset);
      ++fsyncs_;
      auto it = waiters_.begin();
      while (it != waiters_.end() && it->first <= offset) {
        ready.push_back(std::move(it->second));
        it = waiters_.erase(it);
      }
    } else {
      // An fsync that failed cannot be retried as if the data were safe (the kernel may
      // have dropped the dirty pages): the log stops accepting writes.
      for (auto& [off, fn] : waiters_) ready.push_back(std::move(fn));
      waiters_.clear();
      std::lock_guard<std::mutex> lock2(mu_);
      failed_ = s;
    }
  }
  for (auto& fn : ready) fn(s);
}

void LogImpl::OnDurable(uint64_t offset, std::function<void(const Status&)> done) {
  Status failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed = failed_;
  }
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (failed.ok() && offset > durable_.load()) {
      waiters_.emplace(offset, std::move(done));
      return;
    }
  }
  done(failed);
}

Status LogImpl::WaitDurable(uint64_t offset) {
  std::mutex m;
  std::condition_variable cv;
  bool fired = false;
  Status result;
  OnDurable(offset, [&](const Status& s) {
    std::lock_guard<std::mutex> lock(m);
    result = s;
    fired = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return fired; });
  return result;
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
  uint64_t total = 0;
  for (const auto& s : segments_) total += s.size;
  return total;
}

bool LogImpl::FindSegment(uint64_t offset, Segment* seg, bool* is_last, uint64_t* next_base) const {
  std::lock_guard<std::mutex> lock(seg_mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](uint64_t o, const Segment& s) { return o < s.base; });
  if (it == segments_.begin()) return false;
  auto cur = std::prev(it);
  *seg = *cur;
  *is_last = it == segments_.end();
  *next_base = *is_last ? UINT64_MAX : it->base;
  return true;
}

// Consumer offset files: 8 bytes offset + 4 bytes masked crc32c of them.
Status LogImpl::LoadConsumers() {
  const std::string dir = options_.dir + "/consumers";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::FromErrno("opendir " + dir, errno);
  while (struct dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (!ValidConsumerName(name) || name.ends_with(".tmp")) continue;
    int fd = ::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[12];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    uint64_t off;
    uint32_t crc;
    std::memcpy(&off, buf, 8);
    std::memcpy(&crc, buf + 8, 4);
    if (n != 12 || crc32c::Unmask(crc) != crc32c::Value(buf, 8)) {
      ::closedir(d);
      return Status::Corruption("consumer offset file " + dir + "/" + name + " is damaged");
    }
    consumers_[name] = off;
  }
  ::closedir(d);
  return Status::OK();
}

Result<uint64_t> LogImpl::RegisterConsumer(const std::string& name) {
  if (!ValidConsumerName(name)) {
    return Status::InvalidArgument("consumer name '" + name + "' must be [A-Za-z0-9_.-]+");
  }
  {
    std::lock_guard<std::mutex> lock(consumers_mu_);
    auto it = consumers_.find(name);
    if (it != consumers_.end()) return it->second;
  }
  uint64_t start = start_offset();
  SLUICE_RETURN_IF_ERROR(CommitConsumerOffset(name, start));
  return start;
}

Status LogImpl::CommitConsumerOffset(const std::string& name, uint64_t offset) {
  if (!ValidConsumerName(name)) {
    return Status::InvalidArgument("consumer name '" + name + "' must be [A-Za-z0-9_.-]+");
  }
  std::lock_guard<std::mutex> one(consumer_write_mu_);
  char buf[12];
  std::memcpy(buf, &offset, 8);
  uint32_t crc = crc32c::Mask(crc32c::Value(buf, 8));
  std::memcpy(buf + 8, &crc, 4);
  const std::string dir = options_.dir + "/consumers";
  const std::string path = dir + "/" + name, tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  Status s = WriteAll(fd, buf, sizeof buf, tmp);
  if (s.ok() && options_.fsync && ::fdatasync(fd) != 0)
    s = Status::FromErrno("fsync " + tmp, errno);
  ::close(fd);
  SLUICE_RETURN_IF_ERROR(s);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  if (options_.fsync) SLUICE_RETURN_IF_ERROR(SyncDir(dir));
  std::lock_guard<std::mutex> lock(consumers_mu_);
  consumers_[name] = offset;
  return Status::OK();
}

uint64_t LogImpl::MinConsumerOffset() const {
  std::lock_guard<std::mutex> lock(consumers_mu_);
  if (consumers_.empty()) return end_offset();
  uint64_t m = UINT64_MAX;
  for (const auto& [n, off] : consumers_) m = std::min(m, off);
  return m;
}

Status LogImpl::CollectGarbage() {
  const uint64_t min = MinConsumerOffset();
  std::vector<uint64_t> doomed;
  {
    std::lock_guard<std::mutex> lock(seg_mu_);
    while (segments_.size() > 1 && segments_[1].base <= min) {
      doomed.push_back(segments_.front().base);
      segments_.erase(segments_.begin());
    }
  }
  for (uint64_t base : doomed) {
    if (::unlink(SegmentPath(base).c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("unlink " + SegmentPath(base), errno);
    }
  }
  if (!doomed.empty() && options_.fsync) return SyncDir(options_.dir);
  return Status::OK();
}

}  // namespace sluice
