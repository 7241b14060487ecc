// Exponential backoff with jitter and a cap, for retrying an upstream request after a 5xx,
// a timeout, a reset connection or an unparsable body (SPEC §5 "common to all").
//
// Delay n (0-based) is uniform in [d/2, d] with d = min(cap, initial * 2^n): the random
// half keeps many connectors that failed together from retrying together, the fixed half
// keeps the backoff growing. Reset() after a success.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sluice {

class RetryPolicy {
 public:
  RetryPolicy(int initial_ms, int max_ms, int max_attempts, uint64_t seed);
  // The delay before the next attempt, counting it; false when max_attempts is used up.
  bool Next(std::chrono::milliseconds* delay);
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  int initial_ms_, max_ms_, max_attempts_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace sluice
