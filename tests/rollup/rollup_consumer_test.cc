// RollupConsumer against exact SQL over the stored events: random streams with late
// events and duplicates, failed commits and restarts, backfill of metrics defined after
// events arrived (from the config and through Define), and metrics of one tenant.
#include "rollup/rollup_consumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "rollup_fixture.h"

namespace sluice::test {
namespace {

class RollupConsumerTest : public RollupFixture {
 protected:
  void WaitApplied(RollupConsumer* c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (c->applied_offset() < log_->durable_offset() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(c->applied_offset(), log_->durable_offset());
  }
  void WaitBackfilled(RollupConsumer* c, const std::string& tenant) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      bool done = true;
      for (const auto& d : c->Definitions(tenant)) done &= d.backfill_done;
      if (done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL() << "backfill did not finish";
  }
};

TEST_F(RollupConsumerTest, RandomStreamWithLateEventsAndDuplicatesEqualsExactSql) {
  RollupConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.Start().ok());
  size_t accepted = 0, sent = 0;
  for (int round = 0; round < 40; ++round) {
    auto batch = RandomEvents(500, 0.1);
    sent += batch.size();
    accepted += Ingest(std::move(batch));
  }
  EXPECT_LT(accepted, sent) << "the stream must hold duplicates";
  WaitApplied(&c);
  c.Stop();
  DrainStore();
  EXPECT_EQ(c.events_applied(), accepted);
  EXPECT_EQ(store_->CountEvents("").value(), accepted);
  ExpectRollupsExact(c.Definitions(""));
  // Re-sending everything changes nothing: duplicates never reach the log.
  auto before = StoredWindows(kMinuteUs);
  EXPECT_EQ(Ingest(sent_), 0u);
  RollupConsumer again(log_.get(), store_.get(), Options());
  ASSERT_TRUE(again.RunUntilCaughtUp().ok());
  auto after = StoredWindows(kMinuteUs);
  ASSERT_EQ(before.size(), after.size());
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin(), [](auto& a, auto& b) {
    return a.first == b.first && a.second.count == b.second.count && a.second.sum == b.second.sum;
  }));
}

TEST_F(RollupConsumerTest, FailedCommitsAndRestartsNeitherLoseNorDouble) {
  for (int round = 0; round < 10; ++round) Ingest(RandomEvents(400, 0.05));
  DrainStore();
  int commits = 0, failures = 0;
  // Each "process" fails its 3rd commit (after writing rows, before COMMIT), then is
  // replaced by a fresh consumer on the same database, as after a crash.
  while (true) {
    RollupConsumer c(log_.get(), store_.get(), Options());
    c.SetBeforeCommitHookForTest([&]() -> Status {
      if (++commits % 3 == 0) return Status::IOError("injected failure before COMMIT");
      return Status::OK();
    });
    Status s = c.RunUntilCaughtUp();
    if (s.ok()) break;
    ++failures;
    ASSERT_LT(failures, 100);
  }
  EXPECT_GT(failures, 2);
  RollupConsumer check(log_.get(), store_.get(), Options());
  ASSERT_TRUE(check.RunUntilCaughtUp().ok());
  ExpectRollupsExact(check.Definitions(""));
}

TEST_F(RollupConsumerTest, MetricAddedToConfigLaterIsBackfilledExactly) {
  for (int round = 0; round < 10; ++round) Ingest(RandomEvents(500, 0.05));
  DrainStore();
  {
    RollupConsumer builtins_only(log_.get(), store_.get(), Options({}));
    ASSERT_TRUE(builtins_only.RunUntilCaughtUp().ok());
  }
  // Restart with the config metrics: they are registered at the current offset and their
  // history comes from the store; events after that come live.
  RollupConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.Start().ok());
  for (int round = 0; round < 5; ++round) Ingest(RandomEvents(500, 0.05));
  WaitApplied(&c);
  DrainStore();
  WaitBackfilled(&c, "");
  uint64_t backfilled = 0;
  for (const auto& d : c.Definitions("")) {
    if (d.metric.spec.name == "revenue") backfilled = d.backfill_events;
  }
  EXPECT_GT(backfilled, 0u);
  c.Stop();
  ExpectRollupsExact(c.Definitions(""));

  // A changed definition is rebuilt from the store, not mixed with the old one.
  auto changed = ConfigMetrics();
  changed[0].dimensions = {"country"};
  RollupConsumer rebuilt(log_.get(), store_.get(), Options(changed));
  ASSERT_TRUE(rebuilt.RunUntilCaughtUp().ok());
  ExpectRollupsExact(rebuilt.Definitions(""));
}

TEST_F(RollupConsumerTest, TenantMetricDefinedWhileRunningIsBackfilledAndLive) {
  RollupConsumer c(log_.get(), store_.get(), Options({}));
  ASSERT_TRUE(c.Start().ok());
  for (int round = 0; round < 8; ++round) Ingest(RandomEvents(500, 0.05));
  WaitApplied(&c);
  DrainStore();
  MetricSpec spec{"acme_spend", MetricAggregate::kAvg, {}, "amount", {"plan"}};
  auto d = c.Define("acme", spec);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(c.Define("acme", spec).ok()) << "names are unique";
  EXPECT_FALSE(c.Define("acme", MetricSpec{"events", MetricAggregate::kCount, {}, "", {}}).ok());
  for (int round = 0; round < 4; ++round) Ingest(RandomEvents(500, 0.05));
  WaitApplied(&c);
  DrainStore();
  WaitBackfilled(&c, "acme");
  EXPECT_TRUE(c.Find("acme", "acme_spend").has_value());
  EXPECT_FALSE(c.Find("default", "acme_spend").has_value()) << "a tenant's metric is its own";
  c.Stop();
  ExpectRollupsExact(c.Definitions("acme"));

  RollupConsumer offline(log_.get(), store_.get(), Options({}));
  ASSERT_TRUE(offline.RunUntilCaughtUp().ok());
  EXPECT_TRUE(offline.Find("acme", "acme_spend").has_value()) << "definitions persist";
  EXPECT_FALSE(offline.Drop("acme", "events").ok()) << "built-ins cannot be dropped";
  ASSERT_TRUE(offline.Drop("acme", "acme_spend").ok());
  EXPECT_FALSE(offline.Find("acme", "acme_spend").has_value());
  for (const auto& [k, a] : StoredWindows(kMinuteUs)) EXPECT_NE(std::get<1>(k), "acme_spend");
}

}  // namespace
}  // namespace sluice::test
