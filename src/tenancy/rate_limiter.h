// RateLimiter: per-tenant token buckets for requests/s and events/s (SPEC §1.6, §7).
//
// A bucket holds up to one second of its rate and refills continuously. A request is
// admitted while the bucket is not in debt and then pays its full cost, even if that takes
// the bucket below zero: a batch of 500 events under a 100 events/s limit is accepted and
// the next ones wait ~5 s. This keeps the long-run rate exact without ever refusing a batch
// larger than the bucket, and lets a flooding tenant be refused before its body is parsed
// (HasDebt), so the flood costs little of the CPU other tenants need.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice {

// What the X-RateLimit-* headers and Retry-After of a response say.
struct RateDecision {
  bool allowed = true;
  double limit = 0;          // per second; 0 = unlimited (no headers)
  double remaining = 0;      // tokens left after this request (>= 0)
  double reset_seconds = 0;  // until the bucket is full again (allowed) / out of debt (refused)
};

class RateLimiter {
 public:
  enum class Kind { kRequests, kEvents };
  // Charges `cost` to `tenant`'s bucket of `kind` whose rate is `per_second` (0 = no limit).
  RateDecision Charge(std::string_view tenant, Kind kind, double per_second, double cost,
                      int64_t now_us);
  // Charges `cost` whatever the bucket holds: for a request admitted earlier by Peek, so
  // that requests racing between their Peek and their charge still all pay.
  RateDecision Consume(std::string_view tenant, Kind kind, double per_second, double cost,
                       int64_t now_us);
  // Whether the bucket is in debt now (a request would be refused), without charging.
  RateDecision Peek(std::string_view tenant, Kind kind, double per_second, int64_t now_us);

 private:
  struct Bucket {
    double tokens = 0;
    double rate = 0;
    int64_t updated_us = 0;
    bool initialized = false;
  };
  Bucket& Refill(std::string_view tenant, Kind kind, double per_second, int64_t now_us);
  static RateDecision Decide(const Bucket& b, bool allowed);

  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // key: kind byte + tenant
};

}  // namespace sluice
