// Fuzzes log recovery and reading: the input becomes a segment file; Log::Open must
// recover it (cut/skip damage) and a reader must then return only records whose CRC
// holds, without crashing or hanging, and appending afterwards must still work.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "log/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/sluice-log-fuzz-XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  const std::string log_dir = dir + "/log";
  std::filesystem::remove_all(log_dir);
  std::filesystem::create_directories(log_dir);
  {
    std::ofstream f(log_dir + "/00000000000000000000.seg", std::ios::binary);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  sluice::LogOptions options;
  options.dir = log_dir;
  options.fsync = false;
  sluice::RecoveryReport report;
  auto log = sluice::Log::Open(options, &report);
  if (!log.ok()) return 0;
  if (report.truncated_bytes + report.skipped_bytes > size) std::abort();
  auto reader = (*log)->NewReader((*log)->start_offset());
  sluice::LogRecord rec;
  sluice::Status st;
  uint64_t seen = 0;
  while (reader->Next(&rec, &st)) {
    if (rec.end_offset <= rec.offset || rec.end_offset > (*log)->end_offset()) std::abort();
    ++seen;
  }
  if (!st.ok() || seen != report.records) std::abort();
  auto end = (*log)->Append(sluice::RecordType::kEventBatch, "after-recovery");
  if (!end.ok() || !(*log)->WaitDurable(*end).ok()) std::abort();
  return 0;
}
