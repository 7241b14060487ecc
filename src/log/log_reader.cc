// LogReader over durable records: pread from segment files, crossing segment boundaries
// and skipping damaged ranges by the same rule recovery used (record_scan.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log_impl.h"
#include "log/record_scan.h"

namespace sluice {

namespace {

class SegmentLogReader : public LogReader {
 public:
  SegmentLogReader(const LogImpl* log, uint64_t from) : log_(log), pos_(from) {}
  ~SegmentLogReader() override { CloseFd(); }

  uint64_t position() const override { return pos_; }

  bool Next(LogRecord* rec, Status* status) override {
    *status = Status::OK();
    while (true) {
      const uint64_t limit = log_->durable_offset();
      if (pos_ >= limit) return false;
      LogImpl::Segment seg;
      bool last;
      uint64_t next_base;
      if (!log_->FindSegment(pos_, &seg, &last, &next_base)) {
        *status = Status::NotFound("log offset " + std::to_string(pos_) +
                                   " is no longer retained (segment deleted)");
        return false;
      }
      // Bytes of this segment we may read: up to its end and never past durable.
      const uint64_t seg_end = last ? limit : std::min(next_base, limit);
      if (pos_ >= seg.base + seg.size || pos_ >= seg_end) {
        if (last) return false;
        pos_ = next_base;  // past a sealed segment's (possibly damaged) tail
        continue;
      }
      if (!OpenSegment(seg.base, status)) return false;
      const size_t avail = static_cast<size_t>(std::min(seg_end, seg.base + seg.size) - pos_);
      const uint64_t file_pos = pos_ - seg.base;
      // Header first, then the payload: records can be large, so read exactly one.
      if (!ReadAt(file_pos, std::min<size_t>(avail, kLogHeaderSize), status)) return false;
      size_t total = 0;
      RecordCheck c = CheckRecord(buf_.data(), buf_.size(), &total);
      if (c == RecordCheck::kIncomplete && buf_.size() == kLogHeaderSize) {
        uint32_t length;
        std::memcpy(&length, buf_.data() + 4, 4);
        const size_t want = std::min<size_t>(avail, kLogHeaderSize + static_cast<size_t>(length));
        if (!ReadAt(file_pos, want, status)) return false;
        c = CheckRecord(buf_.data(), buf_.size(), &total);
      }
      if (c == RecordCheck::kValid) {
        rec->type = static_cast<RecordType>(static_cast<uint8_t>(buf_[8]));
        rec->payload = std::string_view(buf_.data() + kLogHeaderSize, total - kLogHeaderSize);
        rec->offset = pos_;
        rec->end_offset = pos_ + total;
        pos_ += total;
        return true;
      }
      if (last && seg_end == limit && c == RecordCheck::kIncomplete) {
        *status = Status::Corruption("log record at offset " + std::to_string(pos_) +
                                     " extends past the durable end");
        return false;
      }
      // Damaged range recovery reported: resynchronize on the next valid record.
      if (!ReadAt(file_pos, avail, status)) return false;
      pos_ += FindNextValidRecord(buf_.data(), buf_.size());
    }
  }

 private:
  bool OpenSegment(uint64_t base, Status* status) {
    if (fd_ >= 0 && fd_base_ == base) return true;
    CloseFd();
    const std::string path = log_->SegmentPath(base);
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      *status = Status::FromErrno("open " + path, errno);
      return false;
    }
    fd_base_ = base;
    return true;
  }

  void CloseFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool ReadAt(uint64_t file_pos, size_t n, Status* status) {
    buf_.resize(n);
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf_.data() + done, n - done, static_cast<off_t>(file_pos + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        *status = r == 0 ? Status::Corruption("log segment shorter than its recorded size")
                         : Status::FromErrno("pread log segment", errno);
        return false;
      }
      done += static_cast<size_t>(r);
    }
    return true;
  }

  const LogImpl* log_;
  uint64_t pos_;
  int fd_ = -1;
  uint64_t fd_base_ = 0;
  std::string buf_;
};

}  // namespace

std::unique_ptr<LogReader> LogImpl::NewReader(uint64_t from) {
  return std::make_unique<SegmentLogReader>(this, from);
}

}  // namespace sluice
