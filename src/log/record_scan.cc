#include "log/record_scan.h"

#include <cstring>

#include "common/crc32c.h"
#include "log/log_format.h"

namespace sluice {

namespace {

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian host (x86-64)
}

bool KnownType(uint8_t t) {
  return t == static_cast<uint8_t>(RecordType::kEventBatch) ||
         t == static_cast<uint8_t>(RecordType::kConnectorBatch);
}

}  // namespace

RecordCheck CheckRecord(const char* data, size_t avail, size_t* total) {
  if (avail < kLogHeaderSize) return RecordCheck::kIncomplete;
  const uint32_t length = Load32(data + 4);
  const uint8_t type = static_cast<uint8_t>(data[8]);
  if (length > kMaxRecordPayload || !KnownType(type)) return RecordCheck::kBad;
  if (avail < kLogHeaderSize + static_cast<size_t>(length)) return RecordCheck::kIncomplete;
  // CRC over type byte + payload, which are contiguous after the length.
  const uint32_t actual = crc32c::Value(data + 8, 1 + static_cast<size_t>(length));
  if (crc32c::Unmask(Load32(data)) != actual) return RecordCheck::kBad;
  *total = kLogHeaderSize + length;
  return RecordCheck::kValid;
}

size_t FindNextValidRecord(const char* data, size_t avail) {
  for (size_t p = 1; p + kLogHeaderSize <= avail; ++p) {
    size_t total;
    if (CheckRecord(data + p, avail - p, &total) == RecordCheck::kValid) return p;
  }
  return avail;
}

void EncodeRecordHeader(char* header, uint8_t type, const char* payload, uint32_t length) {
  uint32_t crc =
      crc32c::Extend(crc32c::Value(reinterpret_cast<const char*>(&type), 1), payload, length);
  uint32_t masked = crc32c::Mask(crc);
  std::memcpy(header, &masked, 4);
  std::memcpy(header + 4, &length, 4);
  header[8] = static_cast<char>(type);
}

}  // namespace sluice
