// RatePacer (rate_pacer.h).
#include "sources/rate_pacer.h"

#include <time.h>

#include <cstdlib>
#include <string>

namespace sluice {

namespace {

// A few ms of slack past a reset: our clock and upstream's are not the same clock.
constexpr double kResetSlackSeconds = 0.005;

bool ParseNumber(std::string_view v, double* out) {
  if (v.empty()) return false;
  std::string s(v);
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

RatePacer::Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<RatePacer::Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

RatePacer::RatePacer(double budget) : budget_(budget) {}

void RatePacer::OnRequest(Clock::time_point sent) {
  if (budget_ > 0 && !saw_headers_) next_ = std::max(next_, sent + Seconds(1.0 / budget_));
  // Past the reset a new window has begun whose budget only the next response tells.
  if (remaining_ <= 0 || (reset_at_ && sent >= *reset_at_)) return;
  if (--remaining_ == 0) WaitForReset(sent);
}

void RatePacer::WaitForReset(Clock::time_point now) {
  // Without a usable reset, probe once a second.
  next_ = std::max(next_, reset_at_ ? *reset_at_ + Seconds(kResetSlackSeconds) : now + Seconds(1));
}

double RatePacer::ParseRetryAfter(std::string_view v, double now_unix) {
  double secs;
  if (ParseNumber(v, &secs)) return std::max(0.0, secs);
  std::string s(v);
  struct tm tm {};
  for (const char* fmt :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    tm = {};
    const char* end = strptime(s.c_str(), fmt, &tm);
    if (end != nullptr && *end == '\0') return std::max(0.0, double(timegm(&tm)) - now_unix);
  }
  return -1;
}

void RatePacer::OnResponse(const FetchResponse& r, Clock::time_point now, double now_unix) {
  std::string_view remaining = r.Header("x-ratelimit-remaining");
  std::string_view reset = r.Header("x-ratelimit-reset");
  bool draft = false;
  if (remaining.empty()) {
    remaining = r.Header("ratelimit-remaining");
    reset = r.Header("ratelimit-reset");
    draft = true;
  }
  double rem;
  if (ParseNumber(remaining, &rem)) {
    saw_headers_ = true;
    remaining_ = static_cast<long>(rem);
    double reset_value;
    if (ParseNumber(reset, &reset_value)) {
      // The draft standard's reset is always delta seconds; the X- headers use either.
      double delta = (!draft && reset_value >= 1e9) ? reset_value - now_unix : reset_value;
      reset_at_ = now + Seconds(std::max(0.0, delta));
    } else {
      reset_at_.reset();
    }
    if (rem <= 0) WaitForReset(now);
  }
  std::string_view retry_after = r.Header("retry-after");
  if (!retry_after.empty()) {
    double s = ParseRetryAfter(retry_after, now_unix);
    if (s >= 0) next_ = std::max(next_, now + Seconds(s));
  }
}

}  // namespace sluice
