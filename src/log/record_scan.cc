// See record_scan.h.
#include "log/record_scan.h"

#include <bit>
#include <cstring>

#include "common/crc32c.h"
#include "log/log_format.h"

namespace sluice {

namespace {

static_assert(std::endian::native == std::endian::little, "the log format is little-endian");

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

bool KnownType(uint8_t t) {
  return t == static_cast<uint8_t>(RecordType::kEventBatch) ||
         t == static_cast<uint8_t>(RecordType::kConnectorBatch) ||
         t == static_cast<uint8_t>(RecordType::kDeadLetter);
}

}  // namespace

void EncodeRecordHeader(char* header, uint8_t type, const char* payload, uint32_t length) {
  const char t = static_cast<char>(type);
  const uint32_t masked = crc32c::Mask(crc32c::Extend(crc32c::Value(&t, 1), payload, length));
  std::memcpy(header, &masked, 4);
  std::memcpy(header + 4, &length, 4);
  header[8] = t;
}

bool PlausibleHeader(const char* header, uint32_t* length) {
  *length = Load32(header + 4);
  return *length <= kMaxRecordPayload && KnownType(static_cast<uint8_t>(header[8]));
}

RecordCheck CheckRecord(const char* data, size_t avail, size_t* total) {
  if (avail < kLogHeaderSize) return RecordCheck::kIncomplete;
  uint32_t length;
  if (!PlausibleHeader(data, &length)) return RecordCheck::kBad;
  if (avail - kLogHeaderSize < length) return RecordCheck::kIncomplete;
  // The type byte and the payload are contiguous, so one pass covers both.
  const uint32_t actual = crc32c::Value(data + 8, 1 + static_cast<size_t>(length));
  if (crc32c::Unmask(Load32(data)) != actual) return RecordCheck::kBad;
  *total = kLogHeaderSize + static_cast<size_t>(length);
  return RecordCheck::kValid;
}

size_t FindNextValidRecord(const char* data, size_t avail) {
  size_t total;
  for (size_t p = 1; p + kLogHeaderSize <= avail; ++p) {
    // The type byte rejects almost every position of random or zeroed garbage before
    // any CRC is computed.
    if (CheckRecord(data + p, avail - p, &total) == RecordCheck::kValid) return p;
  }
  return avail;
}

}  // namespace sluice
