// LogReader over durable records: from the log's in-memory tail (tail_cache.h) while it
// still holds them, else pread from segment files into a read-ahead buffer, crossing
// segment boundaries and skipping damaged ranges.
//
// Only bytes below durable_offset() are read, and those never change afterwards, so the
// buffer needs no invalidation and a tailing reader just calls Next() again later. Ranges
// recovery reported as damaged are jumped over by table lookup; damage that appeared
// after Open (bit rot) is resynchronized with the same rule recovery uses, so the reader
// lands where a restart's recovery would.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "log/log_files.h"
#include "log/log_impl.h"
#include "log/record_scan.h"

namespace sluice {

namespace {

// Small records are read 256 KiB at a time, one pread for many records; a large one is
// read whole in one pread.
constexpr size_t kReadAhead = 256 << 10;
// A buffer grown for a large record is given back once records are small again.
constexpr size_t kKeepCapacity = 4 << 20;

class SegmentLogReader : public LogReader {
 public:
  SegmentLogReader(const LogImpl* log, uint64_t from) : log_(log), pos_(from) {}
  ~SegmentLogReader() override { CloseSegment(); }

  uint64_t position() const override { return pos_; }

  bool Next(LogRecord* rec, Status* status) override {
    *status = Status::OK();
    bool from_tail = true;
    while (true) {
      const uint64_t limit = log_->durable_offset();
      if (pos_ >= limit) return false;
      if (from_tail && chunk_ && chunk_->Holds(pos_)) {
        switch (ReadFromChunk(limit, rec)) {
          case ChunkRead::kRecord:
            return true;
          case ChunkRead::kNotDurable:
            return false;
          case ChunkRead::kNoRecord:
            from_tail = false;  // not a record boundary: the checked path below decides
        }
      }
      chunk_.reset();
      LogImpl::Location loc;
      if (!log_->Locate(pos_, &loc)) {
        *status = Status::NotFound("log offset " + std::to_string(pos_) +
                                   " is no longer retained (its segment was deleted)");
        return false;
      }
      if (loc.skip_to > pos_) {
        pos_ = loc.skip_to;  // recovery reported these bytes as damaged
        aligned_ = false;
        continue;
      }
      const uint64_t seg_end = std::min(loc.end, limit);
      if (pos_ >= seg_end) {
        if (loc.next_base == UINT64_MAX) return false;  // the active segment: caught up
        pos_ = loc.next_base;  // past a sealed segment's end (a damaged tail or a gap)
        aligned_ = false;
        continue;
      }
      // Retained and not damaged: newest bytes come from memory when the log still has them.
      if (from_tail && (chunk_ = log_->RecentChunk(pos_))) continue;
      const uint64_t avail = seg_end - pos_;
      bool valid = false;
      if (!ReadRecord(loc, avail, rec, &valid, status)) return false;
      if (valid) {
        aligned_ = true;
        return true;
      }
      aligned_ = false;
      if (!Resync(loc, avail, status)) return false;
    }
  }

 private:
  // Reads the record at pos_ if it is whole and valid within `avail` bytes.
  bool ReadRecord(const LogImpl::Location& loc, uint64_t avail, LogRecord* rec, bool* valid,
                  Status* status) {
    *valid = false;
    if (avail < kLogHeaderSize) return true;
    if (!Fill(loc, pos_, kLogHeaderSize, avail, status)) return false;
    uint32_t length;
    if (!PlausibleHeader(At(pos_), &length)) return true;
    const uint64_t total = kLogHeaderSize + static_cast<uint64_t>(length);
    if (total > avail) return true;  // runs past the segment or the durable end
    if (!Fill(loc, pos_, total, avail, status)) return false;
    size_t checked;
    if (CheckRecord(At(pos_), total, &checked) != RecordCheck::kValid) return true;
    const char* data = At(pos_);
    rec->type = static_cast<RecordType>(static_cast<uint8_t>(data[8]));
    rec->payload = std::string_view(data + kLogHeaderSize, length);
    rec->offset = pos_;
    rec->end_offset = pos_ + total;
    pos_ += total;
    *valid = true;
    return true;
  }

  // The record at pos_ from chunk_, which holds pos_. The chunk holds whole records this
  // process wrote and checksummed, so once the reader is on a record boundary (aligned_:
  // its last record ended here) the header is trusted and the CRC not computed again.
  // Otherwise (a consumer's first offset, or one after skipped damage) the record is
  // checked in full, and anything but a valid record is left to the checked path, which
  // reads the segment file like a reader without the cache would. Chunks and durable
  // offsets both end on commit rounds, so a record never ends past `limit`; checked anyway.
  enum class ChunkRead { kRecord, kNoRecord, kNotDurable };
  ChunkRead ReadFromChunk(uint64_t limit, LogRecord* rec) {
    const char* data = chunk_->bytes.data() + (pos_ - chunk_->base);
    const uint64_t avail = chunk_->end() - pos_;
    uint32_t length;
    if (avail < kLogHeaderSize || !PlausibleHeader(data, &length)) return ChunkRead::kNoRecord;
    const uint64_t total = kLogHeaderSize + static_cast<uint64_t>(length);
    if (total > avail) return ChunkRead::kNoRecord;
    if (!aligned_) {
      size_t checked;
      if (CheckRecord(data, total, &checked) != RecordCheck::kValid) return ChunkRead::kNoRecord;
    }
    if (pos_ + total > limit) return ChunkRead::kNotDurable;
    rec->type = static_cast<RecordType>(static_cast<uint8_t>(data[8]));
    rec->payload = std::string_view(data + kLogHeaderSize, length);
    rec->offset = pos_;
    rec->end_offset = pos_ + total;
    pos_ += total;
    aligned_ = true;
    return ChunkRead::kRecord;
  }

  // Damage recovery did not see (the bytes changed after Open). Rare, so it may read the
  // rest of the segment at once: a candidate record can be up to kMaxRecordPayload long.
  bool Resync(const LogImpl::Location& loc, uint64_t avail, Status* status) {
    if (!Fill(loc, pos_, avail, avail, status)) return false;
    const uint64_t skip = FindNextValidRecord(At(pos_), avail);
    spdlog::warn("log: no valid record at offset {} of {}; skipping {} bytes", pos_,
                 log_->SegmentPath(loc.base), skip);
    pos_ += skip;
    return true;
  }

  const char* At(uint64_t offset) const { return buf_.get() + (offset - buf_offset_); }

  // Makes buf_ hold [offset, offset + need), reading ahead up to `avail` bytes.
  bool Fill(const LogImpl::Location& loc, uint64_t offset, uint64_t need, uint64_t avail,
            Status* status) {
    if (offset >= buf_offset_ && offset + need <= buf_offset_ + buf_len_) return true;
    const size_t n = static_cast<size_t>(std::max(need, std::min<uint64_t>(avail, kReadAhead)));
    if (n > buf_cap_ || (buf_cap_ > kKeepCapacity && n <= kReadAhead)) {
      buf_len_ = 0;
      buf_.reset();  // release before allocating: large buffers must not coexist
      buf_cap_ = std::max(n, kReadAhead);
      buf_.reset(new char[buf_cap_]);  // not make_unique: that would zero the buffer
    }
    if (!OpenSegment(loc.base, status)) return false;
    buf_len_ = 0;
    *status = ReadFully(fd_, offset - loc.base, buf_.get(), n, path_);
    if (!status->ok()) return false;
    buf_offset_ = offset;
    buf_len_ = n;
    return true;
  }

  bool OpenSegment(uint64_t base, Status* status) {
    if (fd_ >= 0 && fd_base_ == base) return true;
    CloseSegment();
    path_ = log_->SegmentPath(base);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      const int err = errno;
      *status = err == ENOENT ? Status::NotFound(path_ + " was deleted (log offset " +
                                                 std::to_string(pos_) + " no longer retained)")
                              : Status::FromErrno("open " + path_, err);
      return false;
    }
    fd_base_ = base;
    return true;
  }

  void CloseSegment() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const LogImpl* const log_;
  uint64_t pos_;
  bool aligned_ = false;                    // pos_ is where the last record returned ended
  std::shared_ptr<const TailChunk> chunk_;  // newest bytes in memory; records are views into it
  int fd_ = -1;
  uint64_t fd_base_ = 0;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t buf_cap_ = 0;
  uint64_t buf_offset_ = 0;  // log offset of buf_[0]
  size_t buf_len_ = 0;
};

}  // namespace

std::unique_ptr<LogReader> LogImpl::NewReader(uint64_t from) {
  return std::make_unique<SegmentLogReader>(this, from);
}

}  // namespace sluice
