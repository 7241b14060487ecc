// Consumer offsets and the garbage collection they drive.
//
// A consumer (store, dedupe snapshot, ...) persists the offset up to which it has made its
// effect durable elsewhere; segments wholly below the slowest consumer are deleted. Each
// consumer is one 12-byte file, consumers/NAME = [offset:8 LE][masked crc32c of it:4],
// replaced atomically (write NAME~, fsync, rename, fsync the folder) so that a crash
// leaves the old offset or the new one, never a torn one. '~' is outside the name
// alphabet, so a leftover temp file can never pass for a consumer.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/crc32c.h"
#include "log/log_files.h"
#include "log/log_impl.h"

namespace sluice {

namespace {

constexpr size_t kOffsetFileSize = 12;

bool ValidConsumerName(const std::string& name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return name != "." && name != "..";  // in the alphabet, but they name folders
}

Status CheckName(const std::string& name) {
  if (ValidConsumerName(name)) return Status::OK();
  return Status::InvalidArgument("consumer name '" + name +
                                 "' must be 1-200 characters of [A-Za-z0-9_.-]");
}

void EncodeOffset(uint64_t offset, char* buf) {
  std::memcpy(buf, &offset, 8);
  const uint32_t crc = crc32c::Mask(crc32c::Value(buf, 8));
  std::memcpy(buf + 8, &crc, 4);
}

bool DecodeOffset(const char* buf, size_t n, uint64_t* offset) {
  if (n != kOffsetFileSize) return false;
  uint32_t crc;
  std::memcpy(&crc, buf + 8, 4);
  if (crc32c::Unmask(crc) != crc32c::Value(buf, 8)) return false;
  std::memcpy(offset, buf, 8);
  return true;
}

}  // namespace

Status LogImpl::LoadConsumers(RecoveryReport* report) {
  const std::string dir = options_.dir + "/consumers";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
  std::vector<std::string> names, temps;
  while (struct dirent* ent = ::readdir(d)) {
    const std::string name = ent->d_name;
    if (ValidConsumerName(name)) {
      names.push_back(name);
    } else if (name.size() > 1 && name.back() == '~') {
      temps.push_back(name);
    }
  }
  ::closedir(d);
  for (const std::string& t : temps) ::unlink((dir + "/" + t).c_str());  // a crash mid-commit

  const uint64_t start = start_offset();
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    char buf[kOffsetFileSize + 1];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    const int err = errno;
    ::close(fd);
    if (n < 0) return Status::FromErrno("read " + path, err);
    uint64_t offset;
    if (!DecodeOffset(buf, static_cast<size_t>(n), &offset)) {
      // Restarting the consumer at the oldest retained byte keeps every segment it might
      // still need; a consumer that tracks its position elsewhere (the store does, in
      // DuckDB) loses nothing, one that does not replays.
      report->notes.push_back("consumer offset file " + path + " is damaged; " + name +
                              " restarts at the log start " + std::to_string(start));
      offset = start;
    }
    consumers_[name] = offset;
  }
  return Status::OK();
}

Status LogImpl::PersistConsumerOffset(const std::string& name, uint64_t offset) {
  char buf[kOffsetFileSize];
  EncodeOffset(offset, buf);
  const std::string dir = options_.dir + "/consumers";
  const std::string path = dir + "/" + name;
  const std::string tmp = path + "~";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  Status s = WriteFullyAt(fd, buf, sizeof buf, 0, tmp);
  if (s.ok() && options_.fsync && ::fdatasync(fd) != 0)
    s = Status::FromErrno("fsync " + tmp, errno);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::FromErrno("rename " + tmp, errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (options_.fsync) SLUICE_RETURN_IF_ERROR(SyncDir(dir));
  std::lock_guard<std::mutex> lock(consumers_mu_);
  consumers_[name] = offset;
  return Status::OK();
}

Result<uint64_t> LogImpl::RegisterConsumer(const std::string& name) {
  SLUICE_RETURN_IF_ERROR(CheckName(name));
  std::lock_guard<std::mutex> files(consumer_files_mu_);
  {
    std::lock_guard<std::mutex> lock(consumers_mu_);
    auto it = consumers_.find(name);
    if (it != consumers_.end()) return it->second;
  }
  // Under consumer_files_mu_, so GC cannot delete the start segment before the new
  // consumer's offset counts towards the minimum.
  const uint64_t start = start_offset();
  SLUICE_RETURN_IF_ERROR(PersistConsumerOffset(name, start));
  return start;
}

Status LogImpl::CommitConsumerOffset(const std::string& name, uint64_t offset) {
  SLUICE_RETURN_IF_ERROR(CheckName(name));
  const uint64_t end = end_offset();
  if (offset > end) {
    return Status::InvalidArgument("consumer " + name + " cannot commit offset " +
                                   std::to_string(offset) + " past the log end " +
                                   std::to_string(end));
  }
  std::lock_guard<std::mutex> files(consumer_files_mu_);
  return PersistConsumerOffset(name, offset);
}

uint64_t LogImpl::MinConsumerOffset() const {
  {
    std::lock_guard<std::mutex> lock(consumers_mu_);
    if (!consumers_.empty()) {
      uint64_t min = UINT64_MAX;
      for (const auto& [name, offset] : consumers_) min = std::min(min, offset);
      return min;
    }
  }
  return end_offset();
}

Status LogImpl::CollectGarbage() {
  std::lock_guard<std::mutex> files(consumer_files_mu_);
  const uint64_t min = MinConsumerOffset();
  std::vector<uint64_t> doomed;
  {
    std::lock_guard<std::mutex> lock(seg_mu_);
    // A segment ends where the next begins; the last (active) one has no next.
    size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1].base <= min) {
      doomed.push_back(segments_[n].base);
      segment_bytes_total_ -= segments_[n].size;
      ++n;
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(n));
    const uint64_t start = segments_.front().base;
    while (!damaged_.empty() && damaged_.begin()->second <= start) damaged_.erase(damaged_.begin());
  }
  // Readers that still have a deleted segment open keep reading it; new lookups fail.
  for (uint64_t base : doomed) {
    const std::string path = SegmentPath(base);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("unlink " + path, errno);
    }
  }
  if (!doomed.empty() && options_.fsync) return SyncDir(options_.dir);
  return Status::OK();
}

}  // namespace sluice
