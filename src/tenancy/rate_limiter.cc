#include "tenancy/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice {

RateLimiter::Bucket& RateLimiter::Refill(std::string_view tenant, Kind kind, double per_second,
                                         int64_t now_us) {
  std::string key;
  key.reserve(tenant.size() + 1);
  key.push_back(kind == Kind::kRequests ? 'r' : 'e');
  key.append(tenant);
  Bucket& b = buckets_[key];
  if (!b.initialized || b.rate != per_second) {
    // A new bucket, or a changed limit: start full at the new rate.
    b.tokens = per_second;
    b.rate = per_second;
    b.updated_us = now_us;
    b.initialized = true;
    return b;
  }
  if (now_us > b.updated_us) {
    b.tokens =
        std::min(b.rate, b.tokens + b.rate * static_cast<double>(now_us - b.updated_us) / 1e6);
    b.updated_us = now_us;
  }
  return b;
}

RateDecision RateLimiter::Decide(const Bucket& b, bool allowed) {
  RateDecision d;
  d.allowed = allowed;
  d.limit = b.rate;
  d.remaining = std::max(0.0, b.tokens);
  // Refused: until the debt is paid and one token earned. Allowed: until the bucket is full.
  const double missing = allowed ? b.rate - b.tokens : 1 - b.tokens;
  d.reset_seconds = b.rate > 0 ? std::max(0.0, missing / b.rate) : 0;
  return d;
}

RateDecision RateLimiter::Charge(std::string_view tenant, Kind kind, double per_second, double cost,
                                 int64_t now_us) {
  if (per_second <= 0) return RateDecision{};
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(tenant, kind, per_second, now_us);
  if (b.tokens <= 0) return Decide(b, false);
  b.tokens -= cost;
  return Decide(b, true);
}

RateDecision RateLimiter::Consume(std::string_view tenant, Kind kind, double per_second,
                                  double cost, int64_t now_us) {
  if (per_second <= 0) return RateDecision{};
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(tenant, kind, per_second, now_us);
  b.tokens -= cost;
  return Decide(b, true);
}

RateDecision RateLimiter::Peek(std::string_view tenant, Kind kind, double per_second,
                               int64_t now_us) {
  if (per_second <= 0) return RateDecision{};
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(tenant, kind, per_second, now_us);
  return Decide(b, b.tokens > 0);
}

}  // namespace sluice
