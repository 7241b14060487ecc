// See segment_writer.h.
#include "log/segment_writer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "log/log_files.h"

namespace sluice {

namespace {

// A commit larger than this is written in several direct writes of this size, so the
// staging buffer stays small whatever the batch (the sync after them covers them all).
constexpr size_t kMaxDirectWrite = 8u << 20;

size_t RoundUp(size_t n) {
  return (n + SegmentWriter::kBlock - 1) / SegmentWriter::kBlock * SegmentWriter::kBlock;
}

}  // namespace

// The kernel answers through statx (Linux 6.1+). A file system that does not answer gets
// buffered writes, since a direct write it refused later would poison the log.
bool SegmentWriter::DirectAlignmentFits(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0) return false;
  if ((stx.stx_mask & STATX_DIOALIGN) == 0) return false;
  return stx.stx_dio_offset_align != 0 && stx.stx_dio_offset_align <= SegmentWriter::kBlock &&
         stx.stx_dio_mem_align != 0 && stx.stx_dio_mem_align <= SegmentWriter::kBlock;
}

void SegmentWriter::FreeAligned::operator()(char* p) const { std::free(p); }

SegmentWriter::~SegmentWriter() { Close(false); }

Status SegmentWriter::Open(const std::string& path, uint64_t size, bool direct) {
  Close();
  path_ = path;
  size_ = size;
  padded_ = false;
  direct_ = false;
  if (direct) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
    const int err = errno;
    if (fd_ < 0 && err != EINVAL) return Status::FromErrno("open " + path, err);
    if (fd_ >= 0 && DirectAlignmentFits(fd_)) {
      direct_ = true;
    } else {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      spdlog::info("log: no O_DIRECT with {}-byte alignment for {}; writing through the page cache",
                   kBlock, path);
    }
  }
  if (fd_ < 0) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int err = errno;
      return Status::FromErrno("open " + path, err);
    }
    return Status::OK();
  }
  // Load the partial last block, which the next write rewrites.
  SLUICE_RETURN_IF_ERROR(Reserve(kBlock));
  const size_t tail = size_ % kBlock;
  if (tail > 0) {
    const ssize_t r = ::pread(fd_, stage_.get(), kBlock, static_cast<off_t>(size_ - tail));
    if (r < 0) {
      const int err = errno;
      return Status::FromErrno("pread " + path, err);
    }
    if (static_cast<size_t>(r) < tail) {
      return Status::Corruption(path + " is shorter than the " + std::to_string(size_) +
                                " bytes recovery found in it");
    }
  }
  return Status::OK();
}

Status SegmentWriter::Reserve(size_t bytes) {
  if (bytes <= stage_cap_) return Status::OK();
  const size_t cap = RoundUp(bytes);
  void* p = nullptr;
  if (::posix_memalign(&p, kBlock, cap) != 0) return Status::IOError("out of memory");
  if (stage_ != nullptr) std::memcpy(p, stage_.get(), size_ % kBlock);
  stage_.reset(static_cast<char*>(p));
  stage_cap_ = cap;
  return Status::OK();
}

Status SegmentWriter::Append(const char* data, size_t n) {
  if (!direct_) {
    SLUICE_RETURN_IF_ERROR(WriteFullyAt(fd_, data, n, size_, path_));
    size_ += n;
    return Status::OK();
  }
  while (n > 0) {
    const size_t tail = size_ % kBlock;
    const size_t take = std::min(n, kMaxDirectWrite);
    SLUICE_RETURN_IF_ERROR(Reserve(RoundUp(tail + take)));
    std::memcpy(stage_.get() + tail, data, take);
    SLUICE_RETURN_IF_ERROR(WriteAligned(tail + take));
    size_ += take;
    data += take;
    n -= take;
    // The new partial block moves to the front: tail + take ends where size_ now does,
    // and both began at a block boundary.
    const size_t new_tail = size_ % kBlock;
    if (new_tail > 0) {
      std::memmove(stage_.get(), stage_.get() + (tail + take - new_tail), new_tail);
    }
  }
  return Status::OK();
}

Status SegmentWriter::WriteAligned(size_t len) {
  const size_t padded = RoundUp(len);
  std::memset(stage_.get() + len, 0, padded - len);
  const char* p = stage_.get();
  size_t left = padded;
  off_t at = static_cast<off_t>(size_ - size_ % kBlock);
  while (left > 0) {
    const ssize_t w = ::pwrite(fd_, p, left, at);
    if (w < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return Status::FromErrno("write " + path_, err);
    }
    // A short direct write that stops inside a block cannot be resumed with an aligned one.
    if (w == 0 || (static_cast<size_t>(w) < left && w % static_cast<ssize_t>(kBlock) != 0)) {
      return Status::IOError("write " + path_ + ": short direct write of " + std::to_string(w) +
                             " of " + std::to_string(left) + " bytes");
    }
    p += w;
    at += w;
    left -= static_cast<size_t>(w);
  }
  padded_ = padded > len;
  return Status::OK();
}

Status SegmentWriter::Sync() {
  if (::fdatasync(fd_) == 0) return Status::OK();
  const int err = errno;
  return Status::FromErrno("fdatasync " + path_, err);
}

Status SegmentWriter::CutPadding() {
  if (!padded_) return Status::OK();
  if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
    const int err = errno;
    return Status::FromErrno("ftruncate " + path_, err);
  }
  padded_ = false;
  return Status::OK();
}

void SegmentWriter::Close(bool cut_padding) {
  if (fd_ < 0) return;
  if (cut_padding && padded_ && CutPadding().ok()) ::fdatasync(fd_);
  ::close(fd_);
  fd_ = -1;
}

}  // namespace sluice
