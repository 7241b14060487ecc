// Fuzzes HyperLogLog::Deserialize, what reads every stored rollup sketch. Any bytes: no
// crash, no out-of-bounds read, errors are Corruption; whatever is accepted estimates a
// non-negative count (+inf only when every register is saturated), re-encodes to bytes that read
// back to the same sketch (same bytes again, same estimate), and merging it with itself or a copy
// changes nothing.
//
// Input: the whole input is tried as a blob; then, so that the fuzzer also reaches the
// encoders from real sketches, the rest's 8-byte words, scrambled, are added to a fresh
// sketch (bit 7 of byte 0: to the decoded one) 1 + (byte 0 & 127) times over with different
// scrambles, and that sketch must pass the same checks.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "rollup/hyperloglog.h"

namespace {

void CheckStable(const sluice::HyperLogLog& h) {
  const double e = h.Estimate();
  if (!(e >= 0)) std::abort();  // NaN or negative; +inf is every register saturated
  const std::string bytes = h.Serialize();
  auto back = sluice::HyperLogLog::Deserialize(bytes);
  if (!back.ok()) std::abort();
  if (back->Serialize() != bytes || back->Estimate() != e) std::abort();
  sluice::HyperLogLog twice = *back;
  twice.Merge(*back);
  twice.Merge(twice);
  if (twice.Serialize() != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = sluice::HyperLogLog::Deserialize(in);
  if (h.ok()) {
    CheckStable(*h);
  } else if (h.status().code() != sluice::Status::Code::kCorruption) {
    std::abort();
  }
  if (size == 0) return 0;
  sluice::HyperLogLog built;
  if ((data[0] & 0x80) && h.ok()) built = *h;
  // Repeat the hashes, spread over the space, to reach dense sizes from short inputs.
  const size_t hashes = (size - 1) / 8;
  const int rounds = 1 + (data[0] & 0x7f);
  for (int r = 0; r < rounds && hashes > 0; ++r) {
    for (size_t i = 0; i < hashes; ++i) {
      uint64_t x;
      std::memcpy(&x, data + 1 + 8 * i, 8);
      built.AddHash(x * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(r) * 0xbf58476d1ce4e5b9ULL);
    }
  }
  CheckStable(built);
  return 0;
}
