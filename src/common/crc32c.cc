#include "common/crc32c.h"

#include <nmmintrin.h>

#include <cstring>

namespace sluice::crc32c {

uint32_t Extend(uint32_t crc, const char* data, size_t n) {
  uint64_t c = ~crc;
  const char* p = data;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
    ++p;
    --n;
  }
  return ~c32;
}

}  // namespace sluice::crc32c
