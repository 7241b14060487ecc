// See log_recovery.h.
#include "log/log_recovery.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "log/log_files.h"
#include "log/record_scan.h"
#include "log/segment_writer.h"

namespace sluice {

namespace {

std::string Range(uint64_t from, uint64_t to) {
  return std::to_string(from) + ".." + std::to_string(to);
}

// A read-only view of a whole file. mmap rather than read(): segments are up to
// segment_bytes and only scanned once, so there is no reason to copy them.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  Status Map(int fd, size_t size, const std::string& path) {
    size_ = size;
    if (size == 0) return Status::OK();
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return Status::FromErrno("mmap " + path, errno);
    ::madvise(m, size, MADV_SEQUENTIAL);
    data_ = m;
    return Status::OK();
  }
  const char* data() const { return static_cast<const char*>(data_); }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// The zeros a direct write pads its last block with (segment_writer.h): less than a block,
// ending the file at a block boundary. A crash before the writer cut them leaves them;
// they are not damage, so they are cut without a report.
bool IsDirectWritePadding(const char* tail, uint64_t n, uint64_t file_size) {
  if (n >= SegmentWriter::kBlock || file_size % SegmentWriter::kBlock != 0) return false;
  for (uint64_t i = 0; i < n; ++i) {
    if (tail[i] != 0) return false;
  }
  return true;
}

// Scans one segment. `limit` is how many of its bytes offsets can address: the next
// segment's base minus this one's, or the file size for the last segment.
Status RecoverSegment(const std::string& path, uint64_t base, bool last, uint64_t limit,
                      RecoveredLog* out, RecoveryReport* report) {
  const int fd = ::open(path.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (last) limit = file_size;

  uint64_t size = file_size;  // what readers may address afterwards
  if (file_size > limit) {
    // Offsets past `limit` belong to the next segment, so these bytes are unreachable.
    report->skipped_bytes += file_size - limit;
    report->notes.push_back(path + ": bytes " + Range(limit, file_size) +
                            " overlap the next segment and are ignored");
    size = limit;
  } else if (file_size < limit) {
    // A sealed segment is fsync'd before the next one is created, so this is damage
    // (or a hand-edited directory): the offsets in between hold nothing.
    report->skipped_bytes += limit - file_size;
    report->notes.push_back(path + ": " + std::to_string(limit - file_size) +
                            " bytes missing before the next segment (offsets " +
                            Range(base + file_size, base + limit) + ")");
  }

  MappedFile map;
  SLUICE_RETURN_IF_ERROR(map.Map(fd, static_cast<size_t>(size), path));
  const char* data = map.data();
  uint64_t pos = 0;
  while (pos < size) {
    size_t total = 0;
    if (CheckRecord(data + pos, size - pos, &total) == RecordCheck::kValid) {
      ++report->records;
      pos += total;
      continue;
    }
    const uint64_t next = pos + FindNextValidRecord(data + pos, size - pos);
    if (next >= size) break;  // nothing valid follows: a damaged tail
    report->skipped_bytes += next - pos;
    report->notes.push_back(path + ": bytes " + Range(pos, next) + " (offsets " +
                            Range(base + pos, base + next) +
                            ") hold no valid record; skipped, the records after them are kept");
    out->damaged.emplace(base + pos, base + next);
    pos = next;
  }

  if (pos < size) {
    const uint64_t cut = size - pos;
    if (last) {
      if (IsDirectWritePadding(data + pos, cut, size)) {
        report->padding_bytes += cut;
      } else {
        report->truncated_bytes += cut;
        report->notes.push_back(path + ": torn or corrupt tail of " + std::to_string(cut) +
                                " bytes at byte " + std::to_string(pos) + " (offset " +
                                std::to_string(base + pos) + ") truncated");
      }
      // The cut must be durable before appends land after it; otherwise a crash could
      // resurrect the old tail behind new records.
      if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) {
        return Status::FromErrno("ftruncate " + path, errno);
      }
      if (::fsync(fd) != 0) return Status::FromErrno("fsync " + path, errno);
      size = pos;
    } else {
      // Not the end of the log: the next segment's records still count, so keep the
      // file as it is and let readers jump over its tail.
      report->skipped_bytes += cut;
      report->notes.push_back(path + ": bytes " + Range(pos, size) + " (offsets " +
                              Range(base + pos, base + size) +
                              ") at the end of a sealed segment hold no valid record; skipped");
      out->damaged.emplace(base + pos, base + size);
    }
  }
  out->segments.push_back({base, size});
  ++report->segments;
  return Status::OK();
}

}  // namespace

Status RecoverLog(const std::string& dir, RecoveredLog* out, RecoveryReport* report) {
  *out = RecoveredLog();
  std::vector<uint64_t> bases;
  SLUICE_RETURN_IF_ERROR(ListSegments(dir, &bases));
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool last = i + 1 == bases.size();
    const uint64_t limit = last ? 0 : bases[i + 1] - bases[i];
    SLUICE_RETURN_IF_ERROR(
        RecoverSegment(dir + "/" + SegmentFileName(bases[i]), bases[i], last, limit, out, report));
  }
  return Status::OK();
}

}  // namespace sluice
