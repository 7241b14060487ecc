// Any string (and its first 8 bytes as an integer and a double): no crash, and whatever is
// accepted lies within years 0001-9999.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "ingest/timestamp.h"

namespace {

constexpr int64_t kMinMicros = -62135596800LL * 1000000;      // 0001-01-01T00:00:00Z
constexpr int64_t kMaxMicros = 253402300800LL * 1000000 - 1;  // 9999-12-31T23:59:59.999999Z

void Check(const sluice::Result<int64_t>& r) {
  if (r.ok() && (r.value() < kMinMicros || r.value() > kMaxMicros)) abort();
  if (!r.ok() && r.status().message().rfind("timestamp: ", 0) != 0) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(sluice::ParseTimestampString(std::string_view(reinterpret_cast<const char*>(data), size)));
  if (size >= 8) {
    int64_t i;
    double d;
    std::memcpy(&i, data, 8);
    std::memcpy(&d, data, 8);
    Check(sluice::TimestampFromInteger(i));
    Check(sluice::TimestampFromNumber(d));
  }
  return 0;
}
