// Keeps a connector inside its upstream's rate limit without hitting a 429 (SPEC §5.1).
//
// It reads, after every response:
//   X-RateLimit-Limit / -Remaining / -Reset   (GitHub, Twitter, ... style)
//   RateLimit-Limit / -Remaining / -Reset     (IETF draft; Reset is delta seconds)
//   Retry-After                               (delta seconds or an HTTP date)
// A Reset value >= 1e9 is a unix epoch (seconds), anything smaller is seconds from now;
// fractions are kept. While Remaining > 0 requests go out at once (bursting uses the whole
// window even when Reset is coarse); at Remaining == 0 the next request waits until Reset.
// Retry-After (on 429/503 or anywhere) always wins when later.
//
// Every request spends one of Remaining when it is sent, not when its answer comes: a
// request whose response is lost (connection reset, truncated) still counted upstream,
// and retrying it on the stale figure would be the 429 the headers were there to avoid.
// The next response's Remaining replaces the estimate.
//
// Without any rate-limit header the configured budget (requests_per_second) spaces
// requests evenly; 0 means no budget.
#pragma once

#include <chrono>
#include <optional>

#include "sources/http_fetcher.h"

namespace sluice {

class RatePacer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RatePacer(double budget_requests_per_second);

  // When the next request may go out.
  Clock::time_point NextAllowed() const { return next_; }
  // Records a request sent at `sent` (for the budget).
  void OnRequest(Clock::time_point sent);
  // Reads the response's headers; `now_unix` converts epoch resets.
  void OnResponse(const FetchResponse& r, Clock::time_point now, double now_unix_seconds);

  bool saw_headers() const { return saw_headers_; }
  // The next request is the last the window allows: sent twice (HttpFetcher::Get), it
  // would draw a 429.
  bool LastInWindow() const { return remaining_ == 1; }
  long remaining() const { return remaining_; }

  // Parses Retry-After: delta seconds or an IMF-fixdate / RFC 850 / asctime date.
  // Returns seconds from now (>= 0), or a negative value if unparsable.
  static double ParseRetryAfter(std::string_view v, double now_unix_seconds);

 private:
  // Holds the next request until reset_at_ (a second from `now` if unknown).
  void WaitForReset(Clock::time_point now);

  double budget_;
  bool saw_headers_ = false;
  long remaining_ = -1;  // upstream's last figure, less the requests sent since
  // When upstream's window ends, if it said; the request that spends the last of
  // remaining_ waits until then.
  std::optional<Clock::time_point> reset_at_;
  Clock::time_point next_{};
};

}  // namespace sluice
