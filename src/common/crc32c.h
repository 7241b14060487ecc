// CRC32C (Castagnoli), the checksum on every log record.
//
// CRC32C rather than CRC32 because x86-64 computes it in hardware (SSE4.2), which keeps
// checksumming off the ingest profile. Masked like LevelDB's so that a CRC stored inside
// checksummed data does not checksum to a fixed pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::crc32c {

// Extends `crc` (the CRC of some prefix) with `n` more bytes.
uint32_t Extend(uint32_t crc, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace sluice::crc32c
