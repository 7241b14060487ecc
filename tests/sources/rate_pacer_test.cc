// RatePacer: every rate-limit header style of SPEC §5.1 turns into the right wait.
#include "sources/rate_pacer.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using Clock = RatePacer::Clock;

FetchResponse With(std::vector<std::pair<std::string, std::string>> headers, long status = 200) {
  FetchResponse r;
  r.status = status;
  r.headers = std::move(headers);
  return r;
}

double WaitSeconds(const RatePacer& p, Clock::time_point now) {
  return std::chrono::duration<double>(p.NextAllowed() - now).count();
}

TEST(RatePacerTest, RemainingAboveZeroSendsAtOnce) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"x-ratelimit-remaining", "3"}, {"x-ratelimit-reset", "30"}}), now, 1e9);
  EXPECT_LE(WaitSeconds(p, now), 0);
  EXPECT_TRUE(p.saw_headers());
}

TEST(RatePacerTest, ResetAsSecondsUntil) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "2"}}), now, 1700000000);
  EXPECT_NEAR(WaitSeconds(p, now), 2.005, 0.001);
}

TEST(RatePacerTest, ResetAsEpoch) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "1700000003"}}), now,
               1700000000.5);
  EXPECT_NEAR(WaitSeconds(p, now), 2.505, 0.001);
}

TEST(RatePacerTest, DraftHeadersAreDeltaSeconds) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"ratelimit-remaining", "0"}, {"ratelimit-reset", "1"}}), now, 1700000000);
  EXPECT_NEAR(WaitSeconds(p, now), 1.005, 0.001);
}

TEST(RatePacerTest, RetryAfterSecondsAndHttpDate) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"retry-after", "4"}}, 429), now, 1700000000);
  EXPECT_NEAR(WaitSeconds(p, now), 4, 0.001);
  // 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_NEAR(RatePacer::ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10, 1e-9);
  EXPECT_LT(RatePacer::ParseRetryAfter("soon", 0), 0);
}

TEST(RatePacerTest, BudgetSpacesRequestsWithoutHeaders) {
  RatePacer p(4);
  auto now = Clock::now();
  p.OnRequest(now);
  EXPECT_NEAR(WaitSeconds(p, now), 0.25, 0.001);
  // Once upstream sends headers, they rule and the budget stops adding waits.
  p.OnResponse(With({{"x-ratelimit-remaining", "10"}}), now, 0);
  auto later = p.NextAllowed();
  p.OnRequest(later);
  EXPECT_EQ(p.NextAllowed(), later);
}

// The last request of a window whose response never came (a connection reset) still
// counted upstream: its retry waits for the reset instead of drawing a 429.
TEST(RatePacerTest, ARequestSpendsRemainingEvenWhenItsResponseIsLost) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"x-ratelimit-remaining", "2"}, {"x-ratelimit-reset", "1700000002"}}), now,
               1700000000);
  p.OnRequest(now);  // answered below
  EXPECT_LE(WaitSeconds(p, now), 0);
  p.OnResponse(With({{"x-ratelimit-remaining", "1"}, {"x-ratelimit-reset", "1700000002"}}), now,
               1700000000);
  p.OnRequest(now);  // lost: no headers come back
  EXPECT_NEAR(WaitSeconds(p, now), 2.005, 0.001);
  EXPECT_EQ(p.remaining(), 0);
}

TEST(RatePacerTest, RequestsAfterTheResetAreNotHeldByTheOldWindow) {
  RatePacer p(0);
  auto now = Clock::now();
  p.OnResponse(With({{"ratelimit-remaining", "1"}, {"ratelimit-reset", "1"}}), now, 1700000000);
  auto later = now + std::chrono::milliseconds(1500);
  p.OnRequest(later);  // a new window: the old estimate does not apply
  EXPECT_LE(WaitSeconds(p, later), 0);
  // Without a reset, spending the last request probes again a second later.
  RatePacer q(0);
  q.OnResponse(With({{"x-ratelimit-remaining", "1"}}), now, 1700000000);
  q.OnRequest(now);
  EXPECT_NEAR(WaitSeconds(q, now), 1, 0.001);
}

}  // namespace
}  // namespace sluice
