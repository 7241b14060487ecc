// The user projection (store/user_projection.h): a user's events read through it are
// exactly the events the plain view holds for that user, after each projection step, late
// events, batches that commit during a step's copy, a step that fails halfway (and the
// reopen after it), eviction, rehydrate, retention, and turning the projection off.
#include "store/user_projection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "store/archiver.h"
#include "store/event_store.h"
#include "store/user_key.h"
#include "store_count.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = 3600ll * 1000000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1764028800ll * 1000000;  // 2025-11-25T00:00:00Z, a day boundary
constexpr int kUsers = 7;

class UserProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-projection-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    archiver_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void Open(bool projection = true) {
    archiver_.reset();
    store_.reset();
    EventStoreOptions so;
    so.archive_root = dir_ + "/archive";
    so.user_projection = projection;
    auto s = EventStore::Open(dir_ + "/sluice.duckdb", so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ArchiverOptions ao;
    ao.staging_dir = dir_ + "/archive-staging";
    ao.lateness_us = kHour;
    ao.hot_days = hot_days_;
    ao.retention_days = retention_days_;
    ao.now_us = [this] { return now_; };
    archiver_ = std::make_unique<Archiver>(store_.get(), ao);
    ASSERT_TRUE(archiver_->Recover().ok());
  }

  // `n` events named prefix0.. from `start_us`, one every 7 minutes, users round robin,
  // in one batch at the next log offset.
  void Append(const std::string& prefix, int64_t start_us, int n,
              const std::string& tenant = "default") {
    std::vector<Event> v;
    for (int i = 0; i < n; ++i) {
      Event e;
      e.tenant = tenant;
      e.event_id = prefix + std::to_string(i);
      e.type = "page_view";
      e.ts_us = start_us + i * 7 * 60 * 1000000ll;
      e.received_at_us = e.ts_us + 1000;
      e.user_id = "user-" + std::to_string(i % kUsers);
      e.properties = R"({"i":)" + std::to_string(i) + "}";
      e.source = "http";
      e.log_offset = next_offset_;
      v.push_back(std::move(e));
    }
    next_offset_ += 100;
    ASSERT_TRUE(store_->AppendBatch(v, "store", next_offset_).ok());
  }

  // Ids of `user`'s events read through the user view, and through the plain view.
  std::multiset<std::string> ByUser(const std::string& user,
                                    const std::string& tenant = "default") {
    return Read(true, user, tenant);
  }
  std::multiset<std::string> Plain(const std::string& user, const std::string& tenant = "default") {
    return Read(false, user, tenant);
  }
  std::multiset<std::string> Read(bool by_user, const std::string& user,
                                  const std::string& tenant) {
    std::multiset<std::string> ids;
    auto fn = [&](duck::Connection& con, const std::string& view) -> Status {
      auto r = con.Query("SELECT event_id FROM (" + view + ") WHERE user_id = '" + user + "'");
      if (!r.ok()) return r.status();
      Status st;
      while (auto chunk = r->FetchChunk(&st)) {
        for (idx_t i = 0; i < chunk.size(); ++i) ids.emplace(duck::GetString(chunk.column(0), i));
      }
      return st;
    };
    Status s = by_user ? store_->WithUserEventsView(
                             tenant, "user_key = " + std::to_string(UserKey(user)), fn)
                       : store_->WithEventsView(tenant, fn);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ids;
  }
  // Every user of `tenant` reads the same ids both ways, none twice; returns the total.
  size_t ExpectSameForEveryUser(const std::string& tenant = "default") {
    size_t total = 0;
    for (int u = 0; u < kUsers; ++u) {
      const std::string user = "user-" + std::to_string(u);
      if (u == 0) ExpectInvariant();
      const auto plain = Plain(user, tenant);
      EXPECT_EQ(ByUser(user, tenant), plain) << user;
      for (const auto& id : plain) EXPECT_EQ(plain.count(id), 1u) << id;
      total += plain.size();
    }
    return total;
  }
  uint64_t Count(const std::string& sql) { return StoreCount(*store_, sql); }
  // The invariant of user_projection.h, row for row: below P, both tables hold the same.
  void ExpectInvariant() {
    if (!store_->user_projection()) return;
    const auto p = P();
    if (!p) return;
    const std::string below = " WHERE ts < make_timestamp(" + std::to_string(*p) + "::BIGINT)";
    const std::string hot = "SELECT tenant, event_id, log_offset, user_key FROM events_hot" + below;
    const std::string proj =
        "SELECT tenant, event_id, log_offset, user_key FROM events_by_user" + below;
    EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM ((" + hot + " EXCEPT ALL " + proj +
                    ") UNION ALL (" + proj + " EXCEPT ALL " + hot + "))"),
              0u);
  }
  uint64_t Projected() { return Count("SELECT count(*)::UBIGINT FROM events_by_user"); }
  std::optional<int64_t> P() {
    std::optional<int64_t> p;
    Status s = store_->WithEventsView("", [&](duck::Connection& con, const std::string&) -> Status {
      auto r = LoadProjectedUntil(con);
      if (!r.ok()) return r.status();
      p = *r;
      return Status::OK();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return p;
  }
  // Runs projection steps until P stops moving; returns how many moved it.
  int ProjectAll() {
    int moved = 0;
    for (int i = 0; i < 100; ++i) {
      ArchiveStats st;
      Status s = archiver_->ProjectUsers(&st);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok() || st.days_projected == 0) break;
      ++moved;
    }
    return moved;
  }

  std::string dir_;
  int hot_days_ = 7;
  int retention_days_ = 30;
  int64_t now_ = kT0 + 3 * kDay + 12 * kHour;
  uint64_t next_offset_ = 100;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<Archiver> archiver_;
};

TEST_F(UserProjectionTest, CompleteDaysAreProjectedAndReadInsteadOfTheHotRows) {
  // ~1,000 events over 4 days and a half (every 7 minutes), in 4 batches.
  for (int b = 0; b < 4; ++b)
    Append("e" + std::to_string(b) + "-", kT0 + b * 250 * 7 * 60 * 1000000ll, 250);
  EXPECT_EQ(P(), std::nullopt);
  EXPECT_EQ(ExpectSameForEveryUser(), 1000u);  // nothing projected: the plain rows

  // Now is day 3, 12:00, so days 0-2 are complete (and an hour past their end).
  EXPECT_EQ(ProjectAll(), 3);
  EXPECT_EQ(P(), kT0 + 3 * kDay);
  EXPECT_EQ(Projected(),
            Count("SELECT count(*)::UBIGINT FROM events_hot WHERE ts < " +
                  std::string("make_timestamp(") + std::to_string(kT0 + 3 * kDay) + "::BIGINT)"));
  EXPECT_GT(Projected(), 600u);
  EXPECT_EQ(ExpectSameForEveryUser(), 1000u);

  // Sorted by user within each day: one run of rows per user and day.
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM (SELECT user_key, epoch_us(date_trunc('day', "
                  "ts)) AS d, lag(user_key) OVER (ORDER BY rowid) AS pk, lag(epoch_us("
                  "date_trunc('day', ts))) OVER (ORDER BY rowid) AS pd FROM events_by_user) "
                  "WHERE pk IS DISTINCT FROM user_key OR pd IS DISTINCT FROM d"),
            3u * kUsers);

  // The rows below P really come from the projection: take one out of it (and only
  // there) and the user view loses it while the plain view keeps it.
  ASSERT_TRUE(store_->Execute("DELETE FROM events_by_user WHERE event_id = 'e0-0'").ok());
  auto plain = Plain("user-0");
  auto by_user = ByUser("user-0");
  EXPECT_EQ(plain.count("e0-0"), 1u);
  EXPECT_EQ(by_user.count("e0-0"), 0u);
  EXPECT_EQ(by_user.size() + 1, plain.size());
}

TEST_F(UserProjectionTest, NothingMovesBeforeADayIsCompleteAndEmptyDaysAreJumped) {
  now_ = kT0 + kDay + 30 * 60 * 1000000ll;  // 00:30 on day 1: day 0 ended, lateness not
  Append("a", kT0 + kHour, 10);
  EXPECT_EQ(ProjectAll(), 0);
  EXPECT_EQ(P(), std::nullopt);
  now_ = kT0 + 20 * kDay;
  Append("b", kT0 + 12 * kDay, 10);
  // Day 0, then straight to day 12 (the days between hold nothing), then to day 19.
  EXPECT_EQ(ProjectAll(), 3);
  EXPECT_EQ(P(), kT0 + 19 * kDay);
  EXPECT_EQ(Projected(), 20u);
  EXPECT_EQ(ExpectSameForEveryUser(), 20u);
}

TEST_F(UserProjectionTest, LateEventsForProjectedDaysGoToBothTables) {
  Append("a", kT0, 500);
  ASSERT_EQ(ProjectAll(), 3);
  const uint64_t projected = Projected();
  // One late event for day 1 and one for day 3 (not projected), in one batch.
  std::vector<Event> late(2);
  for (int i = 0; i < 2; ++i) {
    late[i].tenant = "default";
    late[i].event_id = "late" + std::to_string(i);
    late[i].type = "click";
    late[i].ts_us = kT0 + (i == 0 ? 1 : 3) * kDay + kHour;
    late[i].received_at_us = now_;
    late[i].user_id = "user-3";
    late[i].log_offset = next_offset_;
  }
  next_offset_ += 100;
  ASSERT_TRUE(store_->AppendBatch(late, "store", next_offset_).ok());
  EXPECT_EQ(Projected(), projected + 1);
  EXPECT_EQ(ByUser("user-3").count("late0"), 1u);
  EXPECT_EQ(ByUser("user-3").count("late1"), 1u);
  EXPECT_EQ(ExpectSameForEveryUser(), 502u);
  // The same after a restart (P is loaded from the table).
  Open();
  Append("b", kT0 + kDay, 3);
  EXPECT_EQ(Projected(), projected + 4);
  EXPECT_EQ(ExpectSameForEveryUser(), 505u);
}

TEST_F(UserProjectionTest, BatchesCommittedDuringTheCopyAreCopiedWithTheMoveOfP) {
  Append("a", kT0, 200);  // days 0 and 1
  int calls = 0;
  store_->SetBetweenProjectionPhasesHookForTest([&]() -> Status {
    // Rows for the day being copied, for the next day and for an older one, committed
    // after the copy's snapshot was taken.
    ++calls;
    Append("mid" + std::to_string(calls) + "-", kT0 + 2 * kHour, 5);
    Append("next" + std::to_string(calls) + "-", kT0 + kDay + kHour, 5);
    return Status::OK();
  });
  ASSERT_EQ(ProjectAll(), 3);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(P(), kT0 + 3 * kDay);
  EXPECT_EQ(ExpectSameForEveryUser(), 230u);
  EXPECT_EQ(Projected(), 230u);
}

// The store consumer may commit a log record in parts (ConsumerPosition); the rest of a
// record whose first part the copy's snapshot saw is still the second phase's to copy.
TEST_F(UserProjectionTest, RestOfASplitRecordCommittedDuringTheCopyIsProjected) {
  std::vector<Event> record;
  for (int i = 0; i < 20; ++i) {
    Event e;
    e.tenant = "default";
    e.event_id = "split" + std::to_string(i);
    e.type = "page_view";
    e.ts_us = kT0 + i * 7 * 60 * 1000000ll;
    e.received_at_us = e.ts_us + 1000;
    e.user_id = "user-" + std::to_string(i % kUsers);
    e.source = "http";
    e.log_offset = next_offset_;
    record.push_back(std::move(e));
  }
  const std::vector<Event> head(record.begin(), record.begin() + 10);
  const std::vector<Event> tail(record.begin() + 10, record.end());
  ASSERT_TRUE(store_->AppendRows(RowsOf(head), {}, "store", {next_offset_, 10}).ok());
  int calls = 0;
  store_->SetBetweenProjectionPhasesHookForTest([&]() -> Status {
    if (calls++ > 0) return Status::OK();
    return store_->AppendRows(RowsOf(tail), {}, "store", {next_offset_ + 100, 0});
  });
  ASSERT_GE(ProjectAll(), 1);
  ASSERT_TRUE(P().has_value());
  EXPECT_GE(*P(), kT0 + kDay);  // past day 0
  EXPECT_EQ(ExpectSameForEveryUser(), 20u);
  EXPECT_EQ(Projected(), 20u);
}

TEST_F(UserProjectionTest, AStepThatFailsAfterItsCopyLeavesNoTrace) {
  Append("a", kT0, 400);
  store_->SetBetweenProjectionPhasesHookForTest(
      []() -> Status { return Status::IOError("injected: crash before P moves"); });
  ArchiveStats st;
  EXPECT_FALSE(archiver_->ProjectUsers(&st).ok());
  EXPECT_EQ(P(), std::nullopt);
  EXPECT_GT(Projected(), 0u);  // the copy is committed, as staging
  EXPECT_EQ(ExpectSameForEveryUser(), 400u);
  // A retry in the same process starts over, without doubling the staged rows.
  store_->SetBetweenProjectionPhasesHookForTest(nullptr);
  ASSERT_TRUE(archiver_->ProjectUsers(&st).ok());
  EXPECT_EQ(P(), kT0 + kDay);
  EXPECT_EQ(ExpectSameForEveryUser(), 400u);
  // A crash after the next copy: the reopened store deletes the staged rows.
  store_->SetBetweenProjectionPhasesHookForTest(
      []() -> Status { return Status::IOError("injected"); });
  EXPECT_FALSE(archiver_->ProjectUsers(&st).ok());
  const uint64_t below_p =
      Count("SELECT count(*)::UBIGINT FROM events_hot WHERE ts < " +
            std::string("make_timestamp(") + std::to_string(kT0 + kDay) + "::BIGINT)");
  EXPECT_GT(Projected(), below_p);
  Open();
  EXPECT_EQ(Projected(), below_p);
  EXPECT_EQ(ProjectAll(), 2);
  EXPECT_EQ(ExpectSameForEveryUser(), 400u);
}

TEST_F(UserProjectionTest, EvictRehydrateAndRetentionKeepBothTablesEqual) {
  hot_days_ = 2;
  retention_days_ = 4;
  Open();
  Append("a", kT0, 600);          // days 0-2
  Append("o", kT0, 50, "other");  // another tenant's, day 0
  ASSERT_EQ(ProjectAll(), 3);
  // Day 3, 12:00 with hot_days 2: day 0 leaves the hot tier (from both tables).
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_GT(st.hours_evicted, 24u) << st.ToString();
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM events_by_user WHERE ts < make_timestamp(" +
                  std::to_string(kT0 + kDay) + "::BIGINT)"),
            0u);
  EXPECT_EQ(ExpectSameForEveryUser(), 600u);
  EXPECT_EQ(ExpectSameForEveryUser("other"), 50u);

  // Rehydrate day 0's first hours: back into both tables, once.
  ArchiveStats rh;
  ASSERT_TRUE(archiver_->Rehydrate(kT0, kT0 + 3 * kHour, "default", &rh).ok());
  EXPECT_EQ(rh.hours_rehydrated, 3u);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM events_by_user WHERE ts < make_timestamp(" +
                  std::to_string(kT0 + kDay) + "::BIGINT)"),
            rh.rows_rehydrated);
  EXPECT_EQ(ExpectSameForEveryUser(), 600u);
  ASSERT_TRUE(archiver_->Rehydrate(kT0, kT0 + 3 * kHour, "default", &rh).ok());
  EXPECT_EQ(ExpectSameForEveryUser(), 600u);

  // Two days on (day 5, 12:00) retention removes what ended by day 1, 12:00 everywhere.
  now_ += 2 * kDay;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_GT(st.hours_expired, 0u);
  // Events i*7 minutes from day 0 with i*7 >= 36 h: 309..599.
  EXPECT_EQ(ExpectSameForEveryUser(), 291u);
  EXPECT_EQ(ExpectSameForEveryUser("other"), 0u);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM events_by_user WHERE ts < make_timestamp(" +
                  std::to_string(kT0 + kDay + 12 * kHour) + "::BIGINT)"),
            0u);
}

TEST_F(UserProjectionTest, TurningItOffDropsItAndOnStartsOver) {
  Append("a", kT0, 500);
  ASSERT_EQ(ProjectAll(), 3);
  Open(false);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM duckdb_tables() WHERE table_name IN "
                  "('events_by_user', 'user_projection')"),
            0u);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->ProjectUsers(&st).ok());
  EXPECT_EQ(st.days_projected, 0u);
  Append("b", kT0 + kHour, 5);  // late rows while it is off
  EXPECT_EQ(ExpectSameForEveryUser(), 505u);
  Open(true);
  EXPECT_EQ(P(), std::nullopt);
  EXPECT_EQ(Projected(), 0u);
  EXPECT_EQ(ExpectSameForEveryUser(), 505u);
  EXPECT_EQ(ProjectAll(), 3);
  EXPECT_EQ(ExpectSameForEveryUser(), 505u);
}

}  // namespace
}  // namespace sluice
