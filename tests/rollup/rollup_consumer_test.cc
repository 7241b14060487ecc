// RollupConsumer against exact SQL over the stored events: random streams with late
// events and duplicates, failed commits and restarts, backfill of metrics defined after
// events arrived (from the config and through Define), and metrics of one tenant.
#include "rollup/rollup_consumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "rollup/rollup_table.h"
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

namespace sluice::test {
namespace {

// Rollups live in their own file (rollup_table.h). A data dir written by a version that
// kept them in the store's file has them moved once, at start-up, exactly: no window lost
// or doubled, the consumer resuming from the moved offset, also after a crash between the
// copy and the drop of the old tables.
class RollupMoveTest : public RollupConsumerTest {
 protected:
  // Copies the rollups into the store's file, as an older version kept them there.
  void CopyRollupsIntoTheStoresFile() {
    ASSERT_TRUE(store_
                    ->Execute("CREATE TABLE main.rollup_1m AS SELECT * FROM rollups.rollup_1m;"
                              "CREATE TABLE main.rollup_1h AS SELECT * FROM rollups.rollup_1h;"
                              "CREATE TABLE main.rollup_metrics AS SELECT * FROM "
                              "rollups.rollup_metrics;"
                              "INSERT INTO main.consumer_offsets (name, log_offset) SELECT name, "
                              "log_offset FROM rollups.consumer_offsets WHERE name = 'rollup'")
                    .ok());
  }
  // The older layout: rollups in the store's file and no rollup database.
  void RewindToTheOldLayout() {
    CopyRollupsIntoTheStoresFile();
    ReopenWithoutRollups();
  }
  void ReopenWithoutRollups() {
    store_.reset();
    std::filesystem::remove(dir_ + "/rollups.duckdb");
    std::filesystem::remove(dir_ + "/rollups.duckdb.wal");
    auto s = EventStore::Open(dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Equal bit for bit (a NaN sum stays a NaN).
  static bool SameWindows(const Windows& a, const Windows& b) {
    auto same = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
    if (a.size() != b.size()) return false;
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j) {
      if (i->first != j->first || i->second.count != j->second.count ||
          !same(i->second.sum, j->second.sum) || !same(i->second.min, j->second.min) ||
          !same(i->second.max, j->second.max) || !same(i->second.unique, j->second.unique)) {
        return false;
      }
    }
    return true;
  }
  uint64_t OldTables() {
    auto con = duck::Connection::Open(store_->db());
    auto r = con->Query(
        "SELECT count(*)::UBIGINT FROM duckdb_tables() WHERE database_name = 'sluice' AND "
        "table_name LIKE 'rollup%'");
    return r->FirstUInt64()->value_or(0);
  }
};

TEST_F(RollupMoveTest, RollupsInTheStoresFileMoveOnceAndStayExact) {
  for (bool crash_between : {false, true}) {
    SCOPED_TRACE(crash_between ? "after a crash between copy and drop" : "clean move");
    Windows minutes, hours;
    {
      // Gone before the store is reopened: its connection would keep the old instance.
      RollupConsumer first(log_.get(), store_.get(), Options());
      for (int round = 0; round < 4; ++round) Ingest(RandomEvents(300, 0.1));
      ASSERT_TRUE(first.RunUntilCaughtUp().ok());
      minutes = StoredWindows(kMinuteUs);
      hours = StoredWindows(kHourUs);
      ASSERT_FALSE(minutes.empty());
    }
    RewindToTheOldLayout();
    ASSERT_EQ(OldTables(), 3u);
    if (crash_between) {
      // The copy committed with its mark; the old tables were never dropped.
      auto con = duck::Connection::Open(store_->db());
      ASSERT_TRUE(CreateRollupSchema(*con).ok());  // moves ...
      CopyRollupsIntoTheStoresFile();              // ... and the old tables are back, never dropped
      ASSERT_EQ(OldTables(), 3u);
    }
    // A new consumer moves them and resumes where they left off.
    RollupConsumer second(log_.get(), store_.get(), Options());
    ASSERT_TRUE(second.RunUntilCaughtUp().ok());
    EXPECT_EQ(OldTables(), 0u);
    EXPECT_TRUE(SameWindows(StoredWindows(kMinuteUs), minutes));
    EXPECT_TRUE(SameWindows(StoredWindows(kHourUs), hours));
    Ingest(RandomEvents(300, 0.1));
    ASSERT_TRUE(second.RunUntilCaughtUp().ok());
    DrainStore();
    ExpectRollupsExact(second.Definitions(""));
    second.Stop();
  }
}

}  // namespace
}  // namespace sluice::test
