// See log_files.h.
#include "log/log_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace sluice {

std::string SegmentFileName(uint64_t base) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.seg", static_cast<unsigned long long>(base));
  return buf;
}

bool ParseSegmentFileName(const std::string& name, uint64_t* base) {
  if (name.size() != 24 || name.compare(20, 4, ".seg") != 0) return false;
  for (int i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  errno = 0;
  const unsigned long long v = std::strtoull(name.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;  // 20 digits can exceed 2^64
  *base = v;
  return true;
}

Status ListSegments(const std::string& dir, std::vector<uint64_t>* bases) {
  bases->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    uint64_t base;
    if (ParseSegmentFileName(ent->d_name, &base)) bases->push_back(base);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno("readdir " + dir, err);
  std::sort(bases->begin(), bases->end());
  return Status::OK();
}

Status CreateDirs(const std::string& dir) {
  for (size_t pos = dir.find('/', 1);; pos = dir.find('/', pos + 1)) {
    const std::string prefix = dir.substr(0, pos);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + prefix, errno);
    }
    if (pos == std::string::npos) break;
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory");
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("fsync " + dir, err);
  return Status::OK();
}

Status WriteFullyAt(int fd, const char* data, size_t n, uint64_t at, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(at));
    if (w < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return Status::FromErrno("write " + path, err);
    }
    data += w;
    at += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status ReadFully(int fd, uint64_t pos, char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, data, n, static_cast<off_t>(pos));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("pread " + path, errno);
    }
    if (r == 0) {
      return Status::Corruption(path + " ends at byte " + std::to_string(pos) +
                                ", before data the log index says it holds");
    }
    data += r;
    pos += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
  return Status::OK();
}

Status WriteFileAtomic(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  Status s = WriteFullyAt(fd, contents.data(), contents.size(), 0, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
  ::close(fd);
  SLUICE_RETURN_IF_ERROR(s);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  return SyncDir(path.substr(0, path.find_last_of('/')));
}

}  // namespace sluice
