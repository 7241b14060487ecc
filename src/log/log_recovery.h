// Recovery: what Log::Open does to a log directory before it accepts appends.
//
// Every segment is scanned from its start and every record's length and CRC checked. A
// damaged range followed by a valid record is kept on disk and reported as skipped;
// readers skip exactly that range (record_scan.h defines "next valid record" for both).
// Damage with nothing valid after it in the last segment is a torn write from a crash
// mid-commit: the file is truncated there so appends continue from a clean end. Nothing
// recovery finds is fatal except I/O errors: losing a bad range beats refusing to start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/log.h"

namespace sluice {

struct RecoveredSegment {
  uint64_t base;  // global offset of the segment's first byte
  uint64_t size;  // bytes readers may address; after a truncation, the new file size
};

struct RecoveredLog {
  std::vector<RecoveredSegment> segments;  // ascending by base; appends go to the last
  std::map<uint64_t, uint64_t> damaged;    // start -> end (global offsets) readers skip
};

// Scans and repairs the segments in `dir` (which must exist). Leaves `out->segments`
// empty when there are none. Fills `report`; returns an error only for I/O failures.
Status RecoverLog(const std::string& dir, RecoveredLog* out, RecoveryReport* report);

}  // namespace sluice
