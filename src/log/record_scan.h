// Validating one record in a buffer of segment bytes, and finding the next valid record
// after a damaged one. Shared by recovery (Log::Open) and LogReader, so both draw the same
// line between "record" and "garbage" from the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

enum class RecordCheck { kValid, kIncomplete, kBad };

// Checks the record starting at data[0] with `avail` bytes available. On kValid sets
// *total to header + payload size.
RecordCheck CheckRecord(const char* data, size_t avail, size_t* total);

// The first position p in (0, avail) where a complete valid record starts, or `avail` if
// none. Only record types sluice writes are candidates, which keeps the scan over random
// garbage cheap.
size_t FindNextValidRecord(const char* data, size_t avail);

void EncodeRecordHeader(char* header, uint8_t type, const char* payload, uint32_t length);

}  // namespace sluice
