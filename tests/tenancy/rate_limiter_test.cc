#include "tenancy/rate_limiter.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using Kind = RateLimiter::Kind;

TEST(RateLimiterTest, NoLimitAlwaysAllows) {
  RateLimiter rl;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(rl.Charge("t", Kind::kEvents, 0, 1e6, i).allowed);
}

TEST(RateLimiterTest, KeepsTheLongRunRateAndSaysWhenToRetry) {
  RateLimiter rl;
  const double rate = 100;  // events/s
  int64_t now = 1'000'000;
  double admitted = 0;
  // 10 s of a client offering 50 events every 10 ms (5000/s, 50x the limit).
  for (int step = 0; step < 1000; ++step, now += 10'000) {
    RateDecision d = rl.Charge("t", Kind::kEvents, rate, 50, now);
    if (d.allowed) {
      admitted += 50;
    } else {
      EXPECT_GT(d.reset_seconds, 0);
      EXPECT_EQ(d.remaining, 0);
      EXPECT_EQ(d.limit, rate);
    }
  }
  // One second of burst plus ten of rate, give or take one batch.
  EXPECT_GE(admitted, 1000);
  EXPECT_LE(admitted, 1100 + 50);
}

TEST(RateLimiterTest, BatchLargerThanTheBucketPassesThenWaits) {
  RateLimiter rl;
  EXPECT_TRUE(rl.Charge("t", Kind::kEvents, 100, 500, 0).allowed);    // full bucket: admitted
  RateDecision d = rl.Charge("t", Kind::kEvents, 100, 1, 1'000'000);  // 300 in debt after 1 s
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.reset_seconds, 3.01, 1e-9);  // until the debt is paid and a token earned
  EXPECT_TRUE(rl.Charge("t", Kind::kEvents, 100, 1, 4'000'001).allowed);
}

TEST(RateLimiterTest, AdmittedRequestsPayEvenWhenARacingOneEmptiedTheBucket) {
  RateLimiter rl;
  // Two requests pass Peek on a full bucket, then both are charged: the second still pays,
  // so the tenant is in debt for both and the long-run rate holds.
  EXPECT_TRUE(rl.Peek("t", Kind::kEvents, 100, 0).allowed);
  EXPECT_TRUE(rl.Peek("t", Kind::kEvents, 100, 0).allowed);
  rl.Consume("t", Kind::kEvents, 100, 150, 0);
  RateDecision d = rl.Consume("t", Kind::kEvents, 100, 150, 0);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_FALSE(rl.Peek("t", Kind::kEvents, 100, 1'000'000).allowed);  // -200 + 100
  EXPECT_TRUE(rl.Peek("t", Kind::kEvents, 100, 2'000'001).allowed);
}

TEST(RateLimiterTest, TenantsAndKindsHaveTheirOwnBuckets) {
  RateLimiter rl;
  EXPECT_TRUE(rl.Charge("a", Kind::kRequests, 1, 1, 0).allowed);
  EXPECT_FALSE(rl.Charge("a", Kind::kRequests, 1, 1, 0).allowed);
  EXPECT_TRUE(rl.Charge("b", Kind::kRequests, 1, 1, 0).allowed);
  EXPECT_TRUE(rl.Charge("a", Kind::kEvents, 1, 1, 0).allowed);
  EXPECT_FALSE(rl.Peek("a", Kind::kRequests, 1, 0).allowed);
  EXPECT_TRUE(rl.Peek("a", Kind::kRequests, 1, 1'000'001).allowed);
}

}  // namespace
}  // namespace sluice
