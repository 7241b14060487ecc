// Archiver: hours move hot -> Parquet -> gone with every event counted once at every
// step; late and duplicate events; compaction; rehydrate; a crash (simulated by aborting
// at each step, then reopening the store) at every point of each file's life; and the
// files read by hyparquet, a Parquet reader that is not DuckDB.
#include "store/archiver.h"
#include "store_count.h"
#include "user_key_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHour = 3600ll * 1000000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1764028800ll * 1000000;  // 2025-11-25T00:00:00Z, an hour boundary

Event MakeEvent(const std::string& tenant, const std::string& id, int64_t ts_us) {
  Event e;
  e.tenant = tenant;
  e.event_id = id;
  e.type = "page_view";
  e.ts_us = ts_us;
  e.received_at_us = ts_us + 1000;
  e.user_id = "u-" + id;
  e.properties = R"({"n":)" + std::to_string(id.size()) + R"(,"path":"/p/)" + id + R"("})";
  e.source = "http";
  return e;
}

class ArchiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-archiver-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    archiver_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // Opens (or reopens, as after a crash) the store and a fresh archiver, and recovers.
  void Open() {
    archiver_.reset();
    store_.reset();
    EventStoreOptions so;
    so.archive_root = dir_ + "/archive";
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

  // `n` events of `tenant` named prefix0.. spread over hour `hour` (from kT0), appended as
  // one log record at the next offset.
  void Append(const std::string& tenant, const std::string& prefix, int hour, int n) {
    std::vector<Event> v;
    for (int i = 0; i < n; ++i) {
      Event e = MakeEvent(tenant, prefix + std::to_string(i), kT0 + hour * kHour + i * 1000000);
      e.log_offset = next_offset_;
      v.push_back(e);
    }
    next_offset_ += 100;
    ASSERT_TRUE(store_->AppendBatch(v, "store", next_offset_).ok());
  }

  // `n` events of hour 0 forming the log record at next_offset_, not yet stored.
  std::vector<Event> SplitRecord(int n) {
    std::vector<Event> record;
    for (int i = 0; i < n; ++i) {
      record.push_back(MakeEvent("default", "r" + std::to_string(i), kT0 + i * 1000000));
      record.back().log_offset = next_offset_;
    }
    return record;
  }
  // Commits events [from, to) of `record` as the store consumer does when it splits a
  // record: the position stays inside the record until its last event is stored.
  void CommitPart(const std::vector<Event>& record, size_t from, size_t to) {
    const std::vector<Event> part(record.begin() + from, record.begin() + to);
    const bool whole = to == record.size();
    const ConsumerPosition at =
        whole ? ConsumerPosition{next_offset_ + 100, 0} : ConsumerPosition{next_offset_, to};
    ASSERT_TRUE(store_->AppendRows(RowsOf(part), {}, "store", at).ok());
    if (whole) next_offset_ += 100;
  }
  static std::multiset<std::string> IdsOf(const std::vector<Event>& events) {
    std::multiset<std::string> ids;
    for (const auto& e : events) ids.insert(e.tenant + "/" + e.event_id);
    return ids;
  }

  std::multiset<std::string> Ids(const std::string& tenant = "") {
    std::multiset<std::string> ids;
    Status s = store_->ForEachEventId(tenant, [&](std::string_view t, std::string_view id) {
      ids.emplace(std::string(t) + "/" + std::string(id));
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ids;
  }
  uint64_t Count(const std::string& sql) { return StoreCount(*store_, sql); }
  uint64_t HotRows() { return Count("SELECT count(*)::UBIGINT FROM events_hot"); }
  uint64_t WrongUserKeys() { return CheckUserKeys(*store_).first; }
  // Parquet files on disk, relative to the archive root.
  std::set<std::string> FilesOnDisk() {
    std::set<std::string> out;
    const fs::path root = dir_ + "/archive";
    if (!fs::exists(root)) return out;
    for (auto& e : fs::recursive_directory_iterator(root)) {
      if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).string());
    }
    return out;
  }
  std::set<std::string> FilesRecorded() {
    std::set<std::string> out;
    Status s = store_->WithEventsView("", [&](duck::Connection& con, const std::string&) -> Status {
      auto r = con.Query("SELECT file FROM archive_files");
      if (!r.ok()) return r.status();
      Status st;
      while (auto chunk = r->FetchChunk(&st)) {
        for (idx_t i = 0; i < chunk.size(); ++i) out.emplace(duck::GetString(chunk.column(0), i));
      }
      return st;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // Every id of `expected` exactly once, nothing else, and disk == records.
  void ExpectExactlyOnce(const std::multiset<std::string>& expected) {
    auto got = Ids();
    EXPECT_EQ(got, expected);
    for (const auto& id : got) EXPECT_EQ(got.count(id), 1u) << id;
    EXPECT_EQ(FilesOnDisk(), FilesRecorded());
  }

  std::string dir_;
  int hot_days_ = 7;
  int retention_days_ = 30;
  int64_t now_ =
      kT0 + 2 * kHour + 30 * 60 * 1000000ll;  // 02:30, hours 0 and 1 closed+late? see tests
  uint64_t next_offset_ = 100;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<Archiver> archiver_;
};

TEST_F(ArchiverTest, HourDirIsHiveLayoutAndTenantSafe) {
  EXPECT_EQ(Archiver::HourDir("default", kT0 + 5 * kHour + 7),
            "tenant=default/year=2025/month=11/day=25/hour=05");
  EXPECT_EQ(Archiver::HourDir("../x/y", kT0),
            "tenant=%2E%2E%2Fx%2Fy/year=2025/month=11/day=25/hour=00");
}

TEST_F(ArchiverTest, ArchivesClosedHoursAndKeepsThemHot) {
  Append("default", "a", 0, 50);
  Append("default", "b", 1, 40);
  Append("default", "c", 2, 30);  // the open hour
  const auto all = Ids();
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  // now 02:30, lateness 1 h: only hour 0 ended >= 1 h ago.
  EXPECT_EQ(st.hours_archived, 1u) << st.ToString();
  EXPECT_EQ(st.rows_written, 50u);
  auto files = FilesOnDisk();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files.begin()->rfind("tenant=default/year=2025/month=11/day=25/hour=00/part-", 0), 0u);
  EXPECT_EQ(HotRows(), 120u);  // archived, not evicted: still served from the hot table
  ExpectExactlyOnce(all);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM read_parquet('" + dir_ +
                  "/archive/*/*/*/*/*/*.parquet', hive_partitioning = true) WHERE tenant = "
                  "'default' AND hour = 0"),
            50u);

  // Nothing new: a second pass writes nothing.
  ArchiveStats again;
  ASSERT_TRUE(archiver_->Archive(&again).ok());
  EXPECT_EQ(again.files_written, 0u);
  // The clock moves on: hour 1 closes.
  now_ += kHour;
  ASSERT_TRUE(archiver_->Archive(&again).ok());
  EXPECT_EQ(again.rows_written, 40u);
  ExpectExactlyOnce(all);
}

TEST_F(ArchiverTest, LateEventsIntoArchivedHourAddOnlyNewIds) {
  Append("default", "a", 0, 20);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  Append("default", "late", 0, 5);
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  EXPECT_EQ(st.files_written, 2u);
  EXPECT_EQ(st.rows_written, 25u);
  EXPECT_EQ(
      Count("SELECT count(*)::UBIGINT FROM read_parquet('" + dir_ + "/archive/**/*.parquet')"),
      25u);
}

TEST_F(ArchiverTest, EvictMovesHoursToParquetAndLateCopiesAreDeduped) {
  hot_days_ = 1;
  Open();
  Append("default", "a", 0, 30);
  Append("other", "o", 0, 10);
  Append("default", "b", 1, 20);
  auto all = Ids();
  now_ = kT0 + kDay + 2 * kHour + 1;  // hour 0 and 1 are a day old
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_EQ(st.hours_evicted, 3u) << st.ToString();
  EXPECT_EQ(HotRows(), 0u);
  ExpectExactlyOnce(all);
  EXPECT_EQ(Ids("other").size(), 10u);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM events_hot WHERE tenant = 'other'"), 0u);

  // A late new event and a late copy of an archived one (a retry past the dedupe window)
  // for the evicted hour 0.
  std::vector<Event> late = {MakeEvent("default", "late-new", kT0 + 10),
                             MakeEvent("default", "a3", kT0 + 3 * 1000000)};
  for (auto& e : late) e.log_offset = next_offset_;
  next_offset_ += 100;
  ASSERT_TRUE(store_->AppendBatch(late, "store", next_offset_).ok());
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  all.insert("default/late-new");
  ExpectExactlyOnce(all);
  EXPECT_EQ(HotRows(), 0u);
}

// type_ranges (type_ranges.h) must cover archived events too: a store from before the
// table fills it from both tiers, and eviction leaves it as it was.
TEST_F(ArchiverTest, TypeRangesCoverArchivedHours) {
  hot_days_ = 1;
  Open();
  Append("default", "a", 0, 30);
  Append("default", "b", 1, 20);
  now_ = kT0 + kDay + 2 * kHour + 1;
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  ASSERT_EQ(HotRows(), 0u);
  const std::string range_is_both_hours =
      "SELECT count(*)::UBIGINT FROM sluice_type_ranges WHERE tenant = 'default' AND type = "
      "'page_view'"
      " AND epoch_us(min_ts) = " +
      std::to_string(kT0) + " AND epoch_us(max_ts) = " + std::to_string(kT0 + kHour + 19000000);
  EXPECT_EQ(Count(range_is_both_hours), 1u);
  ASSERT_TRUE(
      store_->Execute("DROP TABLE sluice_type_ranges; DROP TABLE sluice_type_ranges_through").ok());
  Open();
  ASSERT_TRUE(store_->type_ranges_rebuilt());
  EXPECT_EQ(Count(range_is_both_hours), 1u);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM sluice_type_ranges"), 1u);
}

// A recorded Parquet file gone missing must not keep the store from opening while the
// ranges are rebuilt: its tenant is marked unknown (searched without ranges), the others
// keep theirs.
TEST_F(ArchiverTest, TypeRangesOfATenantWithAMissingArchiveFileAreUnknown) {
  hot_days_ = 1;
  Open();
  Append("default", "a", 0, 30);
  Append("other", "o", 0, 10);
  now_ = kT0 + kDay + 2 * kHour + 1;
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  ASSERT_EQ(HotRows(), 0u);
  bool removed = false;
  for (const std::string& f : FilesOnDisk()) {
    if (f.find("default") != std::string::npos && !removed) {
      removed = fs::remove(dir_ + "/archive/" + f);
    }
  }
  ASSERT_TRUE(removed);
  ASSERT_TRUE(
      store_->Execute("DROP TABLE sluice_type_ranges; DROP TABLE sluice_type_ranges_through").ok());
  Open();
  ASSERT_TRUE(store_->type_ranges_rebuilt());
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM sluice_type_ranges WHERE tenant = 'default' AND "
                  "type = ''"),
            1u);
  EXPECT_EQ(Count("SELECT count(*)::UBIGINT FROM sluice_type_ranges WHERE tenant = 'other' AND "
                  "type = 'page_view'"),
            1u);
}

// The store consumer may commit a log record in parts (ConsumerPosition). An archive pass
// between the parts must leave the record alone: archiving the first part would move the
// hour's watermark past the record's offset, and the rest would never reach Parquet.
TEST_F(ArchiverTest, HalfAppliedRecordWaitsUntilItIsWhole) {
  const std::vector<Event> record = SplitRecord(10);
  CommitPart(record, 0, 4);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  EXPECT_EQ(st.rows_written, 0u) << st.ToString();
  EXPECT_TRUE(FilesOnDisk().empty());

  CommitPart(record, 4, record.size());
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  EXPECT_EQ(st.rows_written, 10u) << st.ToString();
  // Every event of the record reaches Parquet: evicting the hour keeps all ten.
  now_ += 8 * kDay;
  ASSERT_TRUE(archiver_->Evict(&st).ok());
  EXPECT_EQ(HotRows(), 0u);
  ExpectExactlyOnce(IdsOf(record));
}

// The same for eviction: late events (older than hot_days) split across two commits, with
// an eviction pass between them.
TEST_F(ArchiverTest, HalfAppliedRecordIsNotEvictedUntilItIsWhole) {
  now_ += 8 * kDay;  // hour 0 is past hot_days: a pass archives and evicts it at once
  const std::vector<Event> record = SplitRecord(10);
  CommitPart(record, 0, 4);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Evict(&st).ok());
  EXPECT_EQ(st.rows_written, 0u) << st.ToString();
  EXPECT_EQ(HotRows(), 4u);

  CommitPart(record, 4, record.size());
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  ASSERT_TRUE(archiver_->Evict(&st).ok());
  EXPECT_EQ(HotRows(), 0u);
  ExpectExactlyOnce(IdsOf(record));
}

TEST_F(ArchiverTest, CompactMergesAnHourIntoOneFile) {
  Append("default", "a", 0, 20);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  Append("default", "b", 0, 20);
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  Append("default", "c", 0, 20);
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  EXPECT_EQ(FilesOnDisk().size(), 3u);
  ASSERT_TRUE(archiver_->Compact(&st).ok());
  EXPECT_EQ(st.hours_compacted, 1u);
  EXPECT_EQ(st.files_removed, 3u);
  EXPECT_EQ(FilesOnDisk().size(), 1u);
  EXPECT_EQ(
      Count("SELECT count(*)::UBIGINT FROM read_parquet('" + dir_ + "/archive/**/*.parquet')"),
      60u);
  // Evicted and compacted: the view reads the one file.
  now_ += 8 * kDay;
  ASSERT_TRUE(archiver_->Evict(&st).ok());
  EXPECT_EQ(Ids().size(), 60u);
}

TEST_F(ArchiverTest, RetentionDeletesOldHoursFromBothTiers) {
  hot_days_ = 1;
  retention_days_ = 3;
  Open();
  Append("default", "old", 0, 10);
  now_ = kT0 + 2 * kDay;
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  std::vector<Event> recent = {MakeEvent("default", "recent", kT0 + 3 * kDay + kHour)};
  recent[0].log_offset = next_offset_;
  ASSERT_TRUE(store_->AppendBatch(recent, "store", next_offset_ + 100).ok());
  EXPECT_EQ(Ids().size(), 11u);
  now_ = kT0 + 3 * kDay + 2 * kHour;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_EQ(st.hours_expired, 1u) << st.ToString();
  ExpectExactlyOnce({"default/recent"});
  EXPECT_FALSE(fs::exists(dir_ + "/archive/tenant=default/year=2025/month=11/day=25"));
}

TEST_F(ArchiverTest, RehydrateBringsEvictedHoursBackOnce) {
  hot_days_ = 1;
  Open();
  Append("default", "a", 0, 25);
  Append("default", "b", 3, 5);
  const auto all = Ids();
  now_ = kT0 + 2 * kDay;
  ArchiveStats st;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  ASSERT_EQ(HotRows(), 0u);
  ArchiveStats rh;
  ASSERT_TRUE(archiver_->Rehydrate(kT0, kT0 + kHour, "", &rh).ok());
  EXPECT_EQ(rh.hours_rehydrated, 1u);
  EXPECT_EQ(rh.rows_rehydrated, 25u);
  EXPECT_EQ(HotRows(), 25u);
  EXPECT_EQ(WrongUserKeys(), 0u);  // rows written by SQL get their key too (user_key.h)
  ExpectExactlyOnce(all);
  // Again, and for another tenant: nothing changes.
  ASSERT_TRUE(archiver_->Rehydrate(kT0, kT0 + kHour, "", &rh).ok());
  ASSERT_TRUE(archiver_->Rehydrate(kT0, kT0 + 5 * kHour, "nobody", &rh).ok());
  EXPECT_EQ(rh.rows_rehydrated, 25u);
  EXPECT_EQ(HotRows(), 25u);
  // A rehydrated hour is not evicted again until hot_days after its rehydration...
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_EQ(HotRows(), 25u);
  ExpectExactlyOnce(all);
  // ...then it is, and its files were never rewritten.
  now_ += kDay + kHour;
  ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
  EXPECT_EQ(HotRows(), 0u);
  ExpectExactlyOnce(all);
}

// A crash at each step of each file's life, simulated by aborting the pass there and
// reopening the store (nothing of the aborted transaction survives, the files stay).
TEST_F(ArchiverTest, CrashAtEveryStepLeavesEveryEventOnce) {
  for (const char* op : {"archive", "evict", "compact", "retention"}) {
    for (const char* step : {"staged", "renamed", "committed", "removed"}) {
      SCOPED_TRACE(std::string(op) + " crash at " + step);
      archiver_.reset();
      store_.reset();
      fs::remove_all(dir_);
      fs::create_directories(dir_);
      hot_days_ = 1;
      retention_days_ = 3;
      now_ = kT0 + 2 * kHour + 1;
      next_offset_ = 100;
      Open();
      Append("default", "a", 0, 30);
      ArchiveStats st;
      if (std::string(op) == "compact") {
        ASSERT_TRUE(archiver_->Archive(&st).ok());
        Append("default", "b", 0, 10);
        ASSERT_TRUE(archiver_->Archive(&st).ok());
      }
      if (std::string(op) == "evict") now_ = kT0 + 2 * kDay;
      if (std::string(op) == "retention") {
        now_ = kT0 + 2 * kDay;
        ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
        now_ = kT0 + 4 * kDay;
      }
      const auto expected = std::string(op) == "retention" ? std::multiset<std::string>{} : Ids();
      bool hit = false;
      archiver_->SetStepHookForTest([&](std::string_view s) {
        if (s == step) {
          hit = true;
          return Status::IOError("simulated crash");
        }
        return Status::OK();
      });
      Status s;
      if (std::string(op) == "archive") s = archiver_->Archive(&st);
      if (std::string(op) == "evict") s = archiver_->Evict(&st);
      if (std::string(op) == "compact") s = archiver_->Compact(&st);
      if (std::string(op) == "retention") s = archiver_->ApplyRetention(&st);
      EXPECT_EQ(s.ok(), !hit);
      // Each step each operation goes through is exercised (retention writes no files,
      // only compaction and retention remove any).
      const std::string key = std::string(op) + "/" + step;
      const bool should_hit = !(key == "archive/removed" || key == "evict/removed" ||
                                key == "retention/staged" || key == "retention/renamed");
      EXPECT_EQ(hit, should_hit) << key;
      Open();  // "restart": Recover sweeps what the crash left
      if (std::string(op) != "retention") ExpectExactlyOnce(expected);
      ASSERT_TRUE(archiver_->RunScheduled(&st).ok());
      if (std::string(op) == "compact") {
        ASSERT_TRUE(archiver_->Compact(&st).ok());
      }
      ExpectExactlyOnce(expected);
    }
  }
}

TEST_F(ArchiverTest, ParquetFilesReadByHyparquetMatch) {
  const std::string modules = std::string(SLUICE_SOURCE_DIR) + "/third_party/node/node_modules";
  if (!fs::exists(modules + "/hyparquet"))
    GTEST_SKIP() << "hyparquet not installed: run scripts/install-deps.sh";
  Append("default", "a", 0, 40);
  ArchiveStats st;
  ASSERT_TRUE(archiver_->Archive(&st).ok());
  auto files = FilesOnDisk();
  ASSERT_EQ(files.size(), 1u);
  const std::string cmd = "node " + std::string(SLUICE_SOURCE_DIR) +
                          "/tests/store/read_parquet_hyparquet.mjs " + modules + " " + dir_ +
                          "/archive/" + *files.begin();
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  // What DuckDB says the hot rows are, rendered the way the script renders them.
  std::vector<std::string> expected;
  Status s = store_->WithEventsView(
      "default", [&](duck::Connection& con, const std::string& view) -> Status {
        auto r = con.Query(
            "SELECT json_object('event_id', event_id, 'type', type, 'ts', strftime(ts, "
            "'%Y-%m-%dT%H:%M:%S.%g') || 'Z', 'received_at', strftime(received_at, "
            "'%Y-%m-%dT%H:%M:%S.%g') || 'Z', 'user_id', user_id, 'anonymous_id', anonymous_id, "
            "'properties', properties::VARCHAR, 'context', context::VARCHAR, 'source', "
            "source)::VARCHAR"
            " FROM (" +
            view + ") ORDER BY ts, event_id");
        if (!r.ok()) return r.status();
        Status st;
        while (auto chunk = r->FetchChunk(&st)) {
          for (idx_t i = 0; i < chunk.size(); ++i)
            expected.emplace_back(duck::GetString(chunk.column(0), i));
        }
        return st;
      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> got;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    got.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << i;
}

}  // namespace
}  // namespace sluice
