// EventStore: schema, batches committed atomically with their consumer offset (also across
// a crash before COMMIT), reopen, streaming ids; plus the append rate it reaches.
#include "store/event_store.h"
#include "store/dead_letters.h"
#include "store/type_ranges.h"
#include "user_key_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sluice {
namespace {

Event MakeEvent(const std::string& tenant, int i) {
  Event e;
  e.tenant = tenant;
  char id[48];
  std::snprintf(id, sizeof id, "0192f3a4-7b1c-7d2e-8f90-%012d", i);
  e.event_id = id;
  e.type = i % 3 == 0 ? "purchase" : "page_view";
  e.ts_us = 1732500000000000 + i;
  e.received_at_us = e.ts_us + 5000;
  e.user_id = "user-" + std::to_string(i % 10007);
  if (i % 2 == 1) e.anonymous_id = "a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b";
  // ~120 bytes, the size the throughput target assumes.
  e.properties = R"({"path":"/products/item-)" + std::to_string(i) +
                 R"(","referrer":"https://example.com/search?q=running+shoes","price":19.99,)"
                 R"("currency":"EUR","qty":2})";
  e.context = i % 2 == 0 ? "" : R"({"ip":"10.0.0.1"})";
  e.source = "http";
  return e;
}

std::vector<Event> MakeEvents(const std::string& tenant, int first, int n) {
  std::vector<Event> v;
  v.reserve(n);
  for (int i = first; i < first + n; ++i) v.push_back(MakeEvent(tenant, i));
  return v;
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-store-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/sluice.duckdb";
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    store_.reset();
    auto s = EventStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  uint64_t Count(const std::string& tenant = "") {
    auto c = store_->CountEvents(tenant);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : UINT64_MAX;
  }
  uint64_t Offset(const std::string& consumer = "store") {
    auto o = store_->LoadOffset(consumer);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? *o : UINT64_MAX;
  }

  std::string dir_, path_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, CreatesSchema) {
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(Count(), 0u);
  EXPECT_EQ(Offset(), 0u);
  EXPECT_TRUE(store_
                  ->Execute("SELECT tenant, event_id, type, ts, received_at, user_id, "
                            "anonymous_id, properties, context, source FROM events_hot")
                  .ok());
  // properties/context are real JSON columns.
  EXPECT_TRUE(store_
                  ->Execute("SELECT error('not JSON: ' || column_name) FROM duckdb_columns() "
                            "WHERE table_name = 'events' AND column_name IN ('properties', "
                            "'context') AND data_type <> 'JSON'")
                  .ok());
}

TEST_F(EventStoreTest, ConnectorCheckpointsUpsertNewestPerConnectorAcrossBatches) {
  using Stored = std::map<std::pair<std::string, std::string>, std::string>;
  auto stored = [&] {
    Stored m;
    auto cps = store_->LoadConnectorCheckpoints();
    EXPECT_TRUE(cps.ok()) << cps.status().ToString();
    if (cps.ok()) {
      for (const auto& c : *cps) {
        m[{c.checkpoint.tenant, c.checkpoint.connector}] = c.checkpoint.checkpoint;
      }
    }
    return m;
  };
  uint64_t offset = 0;
  auto append = [&](std::vector<ConnectorCheckpoint> cps) {
    const int first = static_cast<int>(offset) * 10;
    ++offset;
    Status s = store_->AppendBatch(MakeEvents("t", first, 10), cps, "store", offset);
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  // Several connectors in one batch, one of them twice (the later record wins), and the
  // same connector name under two tenants.
  append({{"t", "a", "a1"}, {"t", "b", "b1"}, {"u", "a", "ua1"}, {"t", "a", "a2"}});
  EXPECT_EQ(stored(), (Stored{{{"t", "a"}, "a2"}, {{"t", "b"}, "b1"}, {{"u", "a"}, "ua1"}}));
  // A different number of connectors per batch, then the first number again.
  append({{"t", "b", "b2"}});
  append({{"t", "c", "c1"}, {"t", "a", "a3"}});
  append({});
  append({{"u", "a", "ua2"}, {"t", "c", "c2"}, {"t", "b", "b3"}});
  const Stored want{
      {{"t", "a"}, "a3"}, {{"t", "b"}, "b3"}, {{"t", "c"}, "c2"}, {{"u", "a"}, "ua2"}};
  EXPECT_EQ(stored(), want);
  EXPECT_EQ(Offset(), offset);
  Open();  // committed, not just cached
  EXPECT_EQ(stored(), want);
  EXPECT_EQ(Count(), 50u);
}

TEST_F(EventStoreTest, CheckpointThresholdComesFromOptions) {
  auto expect = [&](const char* text) {
    auto r = store_->Execute(std::string("SELECT CASE WHEN current_setting('checkpoint_threshold')"
                                         " = '") +
                             text +
                             "' THEN 1 ELSE error('threshold is ' ||"
                             " current_setting('checkpoint_threshold')) END");
    EXPECT_TRUE(r.ok()) << r.ToString();
  };
  expect("128.0 MiB");  // the default, EventStoreOptions::checkpoint_bytes
  store_.reset();
  EventStoreOptions o;
  o.checkpoint_bytes = 32ull << 20;
  auto s = EventStore::Open(path_, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(*s);
  expect("32.0 MiB");
}

TEST_F(EventStoreTest, AppendBatchAndCount) {
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 5000), "store", 100).ok());
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("b", 0, 3000), "store", 200).ok());
  EXPECT_EQ(Count(), 8000u);
  EXPECT_EQ(Count("a"), 5000u);
  EXPECT_EQ(Count("b"), 3000u);
  EXPECT_EQ(Count("nobody"), 0u);
  EXPECT_EQ(Offset(), 200u);
  EXPECT_EQ(Offset("other"), 0u);
  // An empty batch still moves the offset (a log range without events).
  ASSERT_TRUE(store_->AppendBatch({}, "store", 300).ok());
  EXPECT_EQ(Offset(), 300u);
  EXPECT_EQ(Count(), 8000u);
}

TEST_F(EventStoreTest, UserKeyIsSetOnAppendAndForTablesMadeBeforeIt) {
  auto events = MakeEvents("a", 0, 3000);
  for (size_t i = 0; i < events.size(); i += 7) events[i].user_id.clear();  // no user
  const uint64_t with_user = 3000 - (3000 + 6) / 7;
  ASSERT_TRUE(store_->AppendBatch(events, "store", 100).ok());
  EXPECT_EQ(CheckUserKeys(*store_), std::make_pair(uint64_t{0}, with_user));
  // A data dir from before the column: reopening adds it and fills every row's key.
  ASSERT_TRUE(store_->Execute("ALTER TABLE events_hot DROP COLUMN user_key").ok());
  Open();
  EXPECT_EQ(CheckUserKeys(*store_), std::make_pair(uint64_t{0}, with_user));
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 3000, 10), "store", 200).ok());
  EXPECT_EQ(CheckUserKeys(*store_), std::make_pair(uint64_t{0}, with_user + 10));
  EXPECT_EQ(Count(), 3010u);
}

TEST_F(EventStoreTest, ValuesRoundTrip) {
  Event e = MakeEvent("t", 7);
  e.anonymous_id = "anon-1";
  ASSERT_TRUE(store_->AppendBatch({e, MakeEvent("t", 8)}, "store", 1).ok());
  // Each check raises an error (failing Execute) if the stored value is wrong.
  const char* checks[] = {
      "SELECT error('ts') FROM events_hot WHERE event_id LIKE '%7' AND "
      "ts <> make_timestamp(1732500000000007)",
      "SELECT error('received_at') FROM events_hot WHERE event_id LIKE '%7' AND "
      "epoch_us(received_at) <> 1732500000005007",
      "SELECT error('json') FROM events_hot WHERE event_id LIKE '%7' AND "
      "(properties->>'$.path') <> '/products/item-7'",
      "SELECT error('nulls') FROM events_hot WHERE event_id LIKE '%8' AND "
      "(anonymous_id IS NOT NULL OR context IS NOT NULL)",
      "SELECT error('values') FROM events_hot WHERE event_id LIKE '%7' AND "
      "(anonymous_id <> 'anon-1' OR (context->>'$.ip') <> '10.0.0.1' OR source <> 'http' "
      "OR user_id <> 'user-7' OR type <> 'page_view' OR tenant <> 't')",
  };
  for (const char* sql : checks) {
    Status st = store_->Execute(sql);
    EXPECT_TRUE(st.ok()) << sql << ": " << st.ToString();
  }
}

TEST_F(EventStoreTest, ReopenKeepsDataAndOffset) {
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 1000), "store", 42).ok());
  Open();
  EXPECT_EQ(Count(), 1000u);
  EXPECT_EQ(Offset(), 42u);
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 1000, 1000), "store", 84).ok());
  Open();
  EXPECT_EQ(Count(), 2000u);
  EXPECT_EQ(Offset(), 84u);
}

TEST_F(EventStoreTest, CountSeesRowsAppendedAfterReopen) {
  // Regression: a prepared count(*) kept across appends returned the count of the table
  // as loaded from disk (DuckDB 1.4.4 bakes statistics into prepared plans).
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 1000), "store", 1).ok());
  Open();
  EXPECT_EQ(Count(), 1000u);
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 1000, 5000), "store", 2).ok());
  EXPECT_EQ(Count(), 6000u);
  EXPECT_EQ(Count("a"), 6000u);
  EXPECT_EQ(Offset(), 2u);
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("b", 0, 5000), "store", 3).ok());
  EXPECT_EQ(Count("b"), 5000u);
  EXPECT_EQ(Offset(), 3u);
}

TEST_F(EventStoreTest, FailureBeforeCommitLeavesNeitherRowsNorOffset) {
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 100), "store", 10).ok());
  store_->SetBeforeCommitHookForTest([] { return Status::IOError("injected"); });
  Status s = store_->AppendBatch(MakeEvents("a", 100, 5000), "store", 20);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(Count(), 100u);
  EXPECT_EQ(Offset(), 10u);
  // The connection is usable again and the retried batch lands once.
  store_->SetBeforeCommitHookForTest(nullptr);
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 100, 5000), "store", 20).ok());
  EXPECT_EQ(Count(), 5100u);
  EXPECT_EQ(Offset(), 20u);
  Open();
  EXPECT_EQ(Count(), 5100u);
  EXPECT_EQ(Offset(), 20u);
}

using RangeMap = std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>>;

// (tenant, type) -> (min, max) from a query of those four columns, given the `events` view's
// SQL, in one read transaction.
RangeMap Ranges(EventStore& store, const std::function<std::string(const std::string&)>& sql) {
  RangeMap out;
  Status s = store.WithEventsView("", [&](duck::Connection& con, const std::string& view) {
    auto r = con.Query(sql(view));
    if (!r.ok()) return r.status();
    Status st;
    while (duck::DataChunk chunk = r->FetchChunk(&st)) {
      if (chunk.size() == 0) break;
      const auto* lo = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(2)));
      const auto* hi = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(3)));
      for (idx_t i = 0; i < chunk.size(); ++i) {
        out[{std::string(duck::GetString(chunk.column(0), i)),
             std::string(duck::GetString(chunk.column(1), i))}] = {lo[i], hi[i]};
      }
    }
    return st;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Every (tenant, type) the store holds, with its ts range, as a reader sees it.
RangeMap TypeRanges(EventStore& store) {
  return Ranges(store, [](const std::string&) {
    return "SELECT tenant, type, epoch_us(min_ts), epoch_us(max_ts) FROM sluice_type_ranges";
  });
}

// The same computed from the rows themselves: what the ranges must equal while nothing
// was deleted.
RangeMap RangesOfRows(EventStore& store) {
  return Ranges(store, [](const std::string& view) {
    return "SELECT tenant, type, epoch_us(min(ts)), epoch_us(max(ts)) FROM (" + view +
           ") GROUP BY ALL";
  });
}

TEST_F(EventStoreTest, TypeRangesCoverEveryRowAndOnlyCommittedOnes) {
  std::vector<Event> batch = MakeEvents("a", 0, 1000);
  batch.push_back(MakeEvents("b", 5, 1)[0]);
  batch.back().type = std::string("nul") + '\0' + "inside";  // bound, never spliced into SQL
  batch.back().ts_us = -62135596800000000;                   // 0001-01-01
  ASSERT_TRUE(store_->AppendBatch(batch, "store", 10).ok());
  auto ranges = TypeRanges(*store_);
  EXPECT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges, RangesOfRows(*store_));
  const auto nul_key = std::make_pair(std::string("b"), batch.back().type);
  EXPECT_EQ(ranges[nul_key], std::make_pair(batch.back().ts_us, batch.back().ts_us));

  // A later batch widens both ends of one type and adds another; a failed one changes
  // nothing.
  std::vector<Event> more = MakeEvents("a", 1000, 10);
  more[0].ts_us = 1000;
  more[1].type = "signup";
  store_->SetBeforeCommitHookForTest([] { return Status::IOError("injected"); });
  std::vector<Event> failed = MakeEvents("a", 5000, 3);
  failed[0].type = "never";
  ASSERT_FALSE(store_->AppendBatch(failed, "store", 15).ok());
  EXPECT_EQ(TypeRanges(*store_), ranges);
  store_->SetBeforeCommitHookForTest(nullptr);
  ASSERT_TRUE(store_->AppendBatch(more, "store", 20).ok());
  ranges = TypeRanges(*store_);
  EXPECT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges, RangesOfRows(*store_));
  EXPECT_EQ(ranges[std::make_pair(std::string("a"), std::string("page_view"))].first, 1000);
  EXPECT_EQ(ranges.count(std::make_pair(std::string("a"), std::string("never"))), 0u);

  // Kept across a reopen, which reads no rows to rebuild them.
  Open();
  EXPECT_FALSE(store_->type_ranges_rebuilt());
  EXPECT_EQ(TypeRanges(*store_), ranges);
  // A store from before the ranges builds them from its rows.
  ASSERT_TRUE(
      store_->Execute("DROP TABLE sluice_type_ranges; DROP TABLE sluice_type_ranges_through").ok());
  Open();
  EXPECT_TRUE(store_->type_ranges_rebuilt());
  EXPECT_EQ(TypeRanges(*store_), ranges);
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("c", 0, 3), "store", 30).ok());
  EXPECT_EQ(TypeRanges(*store_), RangesOfRows(*store_));
  Open();
  EXPECT_FALSE(store_->type_ranges_rebuilt());

  // A binary from before the ranges (a downgrade) appends a row of a new type and moves the
  // position without widening them; this one, started again, notices and rebuilds.
  ASSERT_TRUE(store_
                  ->Execute("INSERT INTO events_hot (tenant, event_id, type, ts, received_at) "
                            "VALUES ('a', 'by-another-binary', 'written_elsewhere', "
                            "make_timestamp(5::BIGINT), make_timestamp(5::BIGINT));"
                            "UPDATE consumer_offsets SET log_offset = 40 WHERE name = 'store'")
                  .ok());
  Open();
  EXPECT_TRUE(store_->type_ranges_rebuilt());
  ranges = TypeRanges(*store_);
  EXPECT_EQ(ranges, RangesOfRows(*store_));
  EXPECT_EQ(ranges.count(std::make_pair(std::string("a"), std::string("written_elsewhere"))), 1u);
}

// More distinct types in one batch than one statement upserts.
TEST_F(EventStoreTest, TypeRangesOfABatchWithManyTypes) {
  std::vector<Event> batch = MakeEvents("a", 0, 2000);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].type = "t" + std::to_string(i % 700);
  ASSERT_TRUE(store_->AppendBatch(batch, "store", 10).ok());
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 2000, 2000), "store", 20).ok());
  auto ranges = TypeRanges(*store_);
  EXPECT_EQ(ranges.size(), 702u);
  EXPECT_EQ(ranges, RangesOfRows(*store_));
}

TEST_F(EventStoreTest, DuckDbErrorAfterAppendRollsBackRows) {
  // A real DuckDB failure in the offset write, after the rows were appended.
  ASSERT_TRUE(store_
                  ->Execute("DROP TABLE consumer_offsets; CREATE TABLE consumer_offsets "
                            "(name VARCHAR PRIMARY KEY, log_offset UBIGINT CHECK "
                            "(log_offset < 1000))")
                  .ok());
  Open();  // re-prepares against the new table
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 10), "store", 999).ok());
  Status s = store_->AppendBatch(MakeEvents("a", 10, 3000), "store", 1000);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("CHECK"), std::string::npos) << s.ToString();
  EXPECT_EQ(Count(), 10u);
  EXPECT_EQ(Offset(), 999u);
}

TEST_F(EventStoreTest, DuckDbErrorDuringAppendRollsBack) {
  // A constraint failing inside the appender, mid-batch.
  ASSERT_TRUE(store_
                  ->Execute("ALTER TABLE events_hot RENAME TO events_old; "
                            "CREATE TABLE events_hot AS SELECT * FROM events_old LIMIT 0; "
                            "DROP TABLE events_old; "
                            "ALTER TABLE events_hot ALTER COLUMN source SET NOT NULL")
                  .ok());
  std::vector<Event> batch = MakeEvents("a", 0, 3000);
  batch[2500].source.clear();  // stored as NULL
  Status s = store_->AppendBatch(batch, "store", 50);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NOT NULL"), std::string::npos) << s.ToString();
  EXPECT_EQ(Count(), 0u);
  EXPECT_EQ(Offset(), 0u);
  batch[2500].source = "http";
  ASSERT_TRUE(store_->AppendBatch(batch, "store", 50).ok());
  EXPECT_EQ(Count(), 3000u);
}

TEST_F(EventStoreTest, CrashBeforeCommitLeavesNeitherRowsNorOffset) {
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 1000), "store", 10).ok());
  store_.reset();  // no DuckDB threads alive across the fork
  // Enough rows (> 2 row groups) that DuckDB writes blocks optimistically before COMMIT.
  const std::vector<Event> big = MakeEvents("a", 1000, 260000);
  EXPECT_EXIT(
      {
        auto s = EventStore::Open(path_);
        if (!s.ok()) _exit(2);
        (*s)->SetBeforeCommitHookForTest([]() -> Status { _exit(7); });
        (void)(*s)->AppendBatch(big, "store", 20);
        _exit(3);
      },
      ::testing::ExitedWithCode(7), "");
  Open();
  EXPECT_EQ(Count(), 1000u);
  EXPECT_EQ(Offset(), 10u);
  Status st = store_->AppendBatch(big, "store", 20);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Offset(), 20u);
  EXPECT_EQ(Count(), 261000u);
  Open();
  EXPECT_EQ(Offset(), 20u);
  EXPECT_EQ(Count(), 261000u);
}

// A quota that skipped dead letters would let a tenant fill the disk with events its own
// schema refuses; once replayed, a dead letter counts as its stored event instead.
TEST_F(EventStoreTest, StoredBytesCountPendingDeadLetters) {
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, 10), "store", 1).ok());
  std::vector<RejectedEvent> refused;
  for (int i = 0; i < 3; ++i) {
    refused.push_back({MakeEvent("b", 100 + i), "schema v1 of \"purchase\": too big", 1});
  }
  ASSERT_TRUE(store_->AppendBatch({}, {}, "store", 2, refused).ok());
  auto bytes_of = [&](const std::string& tenant) -> uint64_t {
    auto measured = store_->StoredBytesByTenant("store");
    EXPECT_TRUE(measured.ok()) << measured.status().ToString();
    if (!measured.ok()) return UINT64_MAX;
    EXPECT_EQ(measured->consumer_offset, 2u);
    for (const auto& [t, n] : measured->by_tenant) {
      if (t == tenant) return n;
    }
    return 0;
  };
  uint64_t least = 0;  // ids, properties and errors alone
  for (const RejectedEvent& r : refused) {
    least += r.event.event_id.size() + r.event.properties.size() + r.error.size();
  }
  EXPECT_GE(bytes_of("b"), least);
  const uint64_t a_before = bytes_of("a");
  EXPECT_GT(a_before, 0u);
  ASSERT_TRUE(MarkDeadLettersReplayed(
                  *store_, "b",
                  {refused[0].event.event_id, refused[1].event.event_id, refused[2].event.event_id},
                  1732500000000000)
                  .ok());
  EXPECT_EQ(bytes_of("b"), 0u);
  EXPECT_EQ(bytes_of("a"), a_before);
}

TEST_F(EventStoreTest, ForEachEventIdStreamsAllIds) {
  const int kA = 20000, kB = 7000;  // many vectors (2048 rows) each
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("a", 0, kA), "store", 1).ok());
  ASSERT_TRUE(store_->AppendBatch(MakeEvents("b", 0, kB), "store", 2).ok());

  std::set<std::string> a_ids;
  uint64_t calls = 0;
  ASSERT_TRUE(store_
                  ->ForEachEventId("a",
                                   [&](std::string_view tenant, std::string_view id) {
                                     EXPECT_EQ(tenant, "a");
                                     a_ids.emplace(id);
                                     ++calls;
                                   })
                  .ok());
  EXPECT_EQ(calls, static_cast<uint64_t>(kA));
  EXPECT_EQ(a_ids.size(), static_cast<size_t>(kA));
  EXPECT_TRUE(a_ids.count(MakeEvent("a", kA - 1).event_id));

  // All tenants; a batch committed while streaming neither blocks nor shows up.
  std::set<std::pair<std::string, std::string>> all;
  bool appended = false;
  ASSERT_TRUE(store_
                  ->ForEachEventId(
                      "",
                      [&](std::string_view tenant, std::string_view id) {
                        if (!appended) {
                          appended = true;
                          EXPECT_TRUE(store_->AppendBatch(MakeEvents("c", 0, 10), "store", 3).ok());
                        }
                        all.emplace(tenant, id);
                      })
                  .ok());
  EXPECT_EQ(all.size(), static_cast<size_t>(kA + kB));
  EXPECT_EQ(Count("c"), 10u);
}

// Not a correctness test: prints the AppendBatch rate in 50k-row batches (as the consumer
// makes them), JSON vs VARCHAR columns, with one DuckDB thread and with its default.
TEST_F(EventStoreTest, AppendThroughput) {
  const int kBatch = 50000, kBatches = 20;
  const std::vector<Event> batch = MakeEvents("default", 0, kBatch);
  size_t bytes = 0, props = 0;
  for (const Event& e : batch) {
    bytes += e.tenant.size() + e.event_id.size() + e.type.size() + 16 + e.user_id.size() +
             e.anonymous_id.size() + e.properties.size() + e.context.size() + e.source.size();
    props += e.properties.size();
  }
  struct Variant {
    const char* name;
    int threads;
    bool varchar;
  } const variants[] = {
      {"JSON, threads=1", 1, false},
      {"VARCHAR, threads=1", 1, true},
      {"JSON, default threads", 0, false},
      {"VARCHAR, default threads", 0, true},
  };
  for (const Variant& v : variants) {
    store_.reset();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + ".wal");
    EventStoreOptions options;
    options.threads = v.threads;
    auto s = EventStore::Open(path_, options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    if (v.varchar) {
      ASSERT_TRUE(store_
                      ->Execute("ALTER TABLE events_hot ALTER properties TYPE VARCHAR; "
                                "ALTER TABLE events_hot ALTER context TYPE VARCHAR")
                      .ok());
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int b = 0; b < kBatches; ++b) {
      ASSERT_TRUE(store_->AppendBatch(batch, "store", b + 1).ok());
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(Count(), static_cast<uint64_t>(kBatch) * kBatches);
    std::printf(
        "[ rate     ] %-25s %d rows (%zu B/event, properties %zu B) in %.2f s: "
        "%.0f rows/s\n",
        v.name, kBatch * kBatches, bytes / kBatch, props / kBatch, secs, kBatch * kBatches / secs);
  }
}

}  // namespace
}  // namespace sluice
