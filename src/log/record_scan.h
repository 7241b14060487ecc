// Encoding one record, validating one record, and finding the next valid record after a
// damaged one (log_format.h has the layout).
//
// Recovery (log_recovery.cc) and LogReader both draw the line between "record" and
// "garbage" with these functions, so a damaged range that recovery reports as skipped is
// the range a reader skips: the same bytes give the same answer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

enum class RecordCheck {
  kValid,
  kIncomplete,  // the header (or the length it claims) runs past the bytes available
  kBad,         // impossible length, unknown type or CRC mismatch
};

// Writes the 9-byte header of a record with this type and payload.
void EncodeRecordHeader(char* header, uint8_t type, const char* payload, uint32_t length);

// Checks the header alone: known type and a length <= kMaxRecordPayload. On success sets
// *length to the payload length.
bool PlausibleHeader(const char* header, uint32_t* length);

// Checks the record starting at data[0] given `avail` bytes. On kValid sets *total to the
// header + payload size.
RecordCheck CheckRecord(const char* data, size_t avail, size_t* total);

// The smallest p in [1, avail) where a complete valid record starts, or `avail` if there
// is none. This is the resynchronization rule after damage; it is deterministic in the
// bytes so recovery and readers agree.
size_t FindNextValidRecord(const char* data, size_t avail);

}  // namespace sluice
