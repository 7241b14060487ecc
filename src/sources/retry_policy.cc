// RetryPolicy (retry_policy.h).
#include "sources/retry_policy.h"

#include <algorithm>

namespace sluice {

RetryPolicy::RetryPolicy(int initial_ms, int max_ms, int max_attempts, uint64_t seed)
    : initial_ms_(initial_ms),
      max_ms_(std::max(initial_ms, max_ms)),
      max_attempts_(max_attempts),
      rng_(seed) {}

bool RetryPolicy::Next(std::chrono::milliseconds* delay) {
  if (max_attempts_ > 0 && failures_ + 1 >= max_attempts_) return false;
  const int shift = std::min(failures_, 30);
  const double d = std::min<double>(max_ms_, double(initial_ms_) * double(1ull << shift));
  std::uniform_real_distribution<double> jitter(d / 2, d);
  *delay = std::chrono::milliseconds(static_cast<int64_t>(jitter(rng_)));
  ++failures_;
  return true;
}

}  // namespace sluice
