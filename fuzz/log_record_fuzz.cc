// Fuzzes log recovery and reading. The input becomes one or two segment files; Log::Open
// must recover them (cut or skip damage) without crashing or hanging, a reader must then
// return exactly the records recovery counted, a second Open must find nothing left to
// cut, and appending afterwards must work and be readable.
//
// Input: byte 0 chooses the layout (bit 0: split into two segments at the offset in
// bytes 1-2); the rest is segment content.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "log/log.h"

namespace {

void WriteSegment(const std::string& dir, uint64_t base, const uint8_t* data, size_t n) {
  char name[32];
  std::snprintf(name, sizeof name, "/%020llu.seg", static_cast<unsigned long long>(base));
  std::ofstream f(dir + name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!f.good()) std::abort();
}

// Reads every record, checking the reader's own invariants; returns how many.
uint64_t ReadAll(sluice::Log* log) {
  auto reader = log->NewReader(log->start_offset());
  sluice::LogRecord rec;
  sluice::Status st;
  uint64_t n = 0, prev_end = log->start_offset();
  while (reader->Next(&rec, &st)) {
    if (rec.offset < prev_end) std::abort();
    if (rec.end_offset != rec.offset + sluice::kLogHeaderSize + rec.payload.size()) std::abort();
    if (rec.end_offset > log->durable_offset()) std::abort();
    if (reader->position() != rec.end_offset) std::abort();
    prev_end = rec.end_offset;
    ++n;
  }
  if (!st.ok()) std::abort();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    char tmpl[] = "/tmp/sluice-log-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    return std::string(tmpl);
  }();
  if (size < 3) return 0;
  const bool split = data[0] & 1;
  const size_t at = std::min<size_t>(size - 3, data[1] | (size_t{data[2]} << 8));
  data += 3;
  size -= 3;

  const std::string dir = root + "/log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (split) {
    WriteSegment(dir, 0, data, at);
    WriteSegment(dir, at, data + at, size - at);
  } else {
    WriteSegment(dir, 0, data, size);
  }

  sluice::LogOptions options;
  options.dir = dir;
  options.fsync = false;
  options.segment_bytes = 1024;  // so the append below may roll a segment
  sluice::RecoveryReport report;
  {
    auto opened = sluice::Log::Open(options, &report);
    if (!opened.ok()) std::abort();  // damaged contents are repaired, never fatal
    sluice::Log* log = opened->get();
    if (report.truncated_bytes + report.skipped_bytes > size) std::abort();
    if (log->end_offset() != log->durable_offset()) std::abort();
    if (ReadAll(log) != report.records) std::abort();
  }
  // Recovery's repairs are durable: the second time there is nothing to cut.
  sluice::RecoveryReport again;
  auto reopened = sluice::Log::Open(options, &again);
  if (!reopened.ok()) std::abort();
  sluice::Log* log = reopened->get();
  if (again.truncated_bytes != 0 || again.records != report.records ||
      again.skipped_bytes != report.skipped_bytes) {
    std::abort();
  }
  const std::string payload(size > 0 ? static_cast<size_t>(data[0] % 200) * 10 : 0, 'p');
  auto end = log->Append(sluice::RecordType::kEventBatch, payload);
  if (!end.ok() || !log->WaitDurable(*end).ok()) std::abort();
  if (ReadAll(log) != report.records + 1) std::abort();
  return 0;
}
