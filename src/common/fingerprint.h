// The 128-bit fingerprint that stands for a (tenant, event_id) pair in the dedupe index.
//
// 128 bits because the index trusts a fingerprint match without looking the event up:
// the chance that any two of 10^9 distinct ids collide is about n^2 / 2^129 ~ 1.5e-21,
// far under the 1e-12 that SPEC §1.2 tolerates. (64 bits would give ~2.7e-2.)
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice {

struct Fingerprint {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const Fingerprint&) const = default;
};

// The tenant is length-prefixed so ("ab","c") and ("a","bc") differ.
Fingerprint FingerprintOf(std::string_view tenant, std::string_view event_id);

}  // namespace sluice
