#include "common/fingerprint.h"

#include <xxhash.h>

#include <cstring>
#include <string>

namespace sluice {

Fingerprint FingerprintOf(std::string_view tenant, std::string_view event_id) {
  char stack[512];
  size_t n = 1 + tenant.size() + event_id.size();
  std::string heap;
  char* buf = stack;
  if (n > sizeof stack) {
    heap.resize(n);
    buf = heap.data();
  }
  buf[0] = static_cast<char>(tenant.size() & 0xff);
  std::memcpy(buf + 1, tenant.data(), tenant.size());
  std::memcpy(buf + 1 + tenant.size(), event_id.data(), event_id.size());
  XXH128_hash_t h = XXH3_128bits_withSeed(buf, n, 0x5eed5111ce);
  return Fingerprint{h.low64, h.high64};
}

}  // namespace sluice
