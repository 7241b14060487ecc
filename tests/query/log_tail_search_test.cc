// Search over the log's tail with a real Log and a real EventStore: an acknowledged event is
// found before the store commits it; while the store is part-way through the log (also
// inside a record) every event is counted once, in order, across pages; the C++ filters
// select exactly what the stored search's SQL selects; other tenants' events stay out;
// the byte bound keeps visibility a prefix of the log.
#include "query/log_tail_search.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ingest/connector_batch.h"
#include "ingest/event_codec.h"
#include "make_event.h"
#include "store/store_consumer.h"

namespace sluice {
namespace {

constexpr int64_t kT0 = 1732500000000000;  // 2024-11-25T02:00:00Z
constexpr int64_t kSec = 1000000;

class LogTailSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-tail-search-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    LogOptions lo;
    lo.dir = dir_ + "/log";
    lo.fsync = false;
    RecoveryReport report;
    auto l = Log::Open(lo, &report);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(*l);
    auto s = EventStore::Open(dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Appends `events` as one durable log record; remembers each with its record's offset.
  // With a `connector`, the record is a pull connector's batch (connector_batch.h).
  void AppendRecord(std::vector<Event> events,
                    const std::optional<ConnectorCheckpoint>& connector = std::nullopt) {
    const uint64_t start = log_->end_offset();
    EventBatchWriter w;
    for (Event& e : events) {
      e.log_offset = start;
      w.Add(e);
    }
    auto end = connector ? log_->Append(RecordType::kConnectorBatch,
                                        EncodeConnectorBatch(*connector, w.Finish()))
                         : log_->Append(RecordType::kEventBatch, w.Finish());
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    ASSERT_TRUE(log_->WaitDurable(*end).ok());
    record_starts_.push_back(start);
    appended_.insert(appended_.end(), events.begin(), events.end());
  }

  // Records of `per_record` events, ids e0, e1, ..., one second apart from kT0.
  void AppendNumbered(int records, int per_record) {
    for (int r = 0; r < records; ++r) {
      std::vector<Event> events;
      for (int i = 0; i < per_record; ++i) {
        const int n = static_cast<int>(appended_.size() + events.size());
        events.push_back(
            MakeEvent("acme", "e" + std::to_string(n), kT0 + n * kSec, n % 3 ? "view" : "buy"));
      }
      AppendRecord(std::move(events));
    }
  }

  // Commits the first `n` appended events the way the store consumer would: rows plus the
  // position just past them (inside a record when `n` ends there).
  void StoreFirst(size_t n) {
    std::vector<Event> first(appended_.begin(), appended_.begin() + n);
    ConsumerPosition pos;
    if (n == appended_.size()) {
      pos = {log_->durable_offset(), 0};
    } else {
      const uint64_t rec = appended_[n].log_offset;
      uint64_t applied = 0;
      for (size_t i = 0; i < n; ++i) applied += appended_[i].log_offset == rec;
      pos = {rec, applied};
    }
    ASSERT_TRUE(store_->AppendRows(RowsOf(first), {}, "store", pos).ok());
  }

  EventSearchRequest Req(QueryParams p, const std::string& tenant = "acme") {
    auto r = ParseEventSearchRequest(tenant, p, 1000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : EventSearchRequest{};
  }

  EventSearchOptions WithTail(uint64_t bytes = 128ull << 20) {
    EventSearchOptions o;
    o.log = log_.get();
    o.log_tail_bytes = bytes;
    o.now_us = kT0 + 3600 * kSec;
    return o;
  }
  EventSearchOptions StoredOnly() {
    EventSearchOptions o;
    o.now_us = kT0 + 3600 * kSec;
    return o;
  }

  std::vector<std::string> Ids(const EventSearchRequest& r, const EventSearchOptions& o,
                               std::optional<std::string>* next = nullptr,
                               std::vector<std::string>* json = nullptr) {
    auto page = SearchEvents(*store_, r, o);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (!page.ok()) return ids;
    for (const auto& e : page->events) {
      const size_t a = e.find("\"event_id\":\"") + 12;
      ids.push_back(e.substr(a, e.find('"', a) - a));
      if (json) json->push_back(e);
    }
    if (next) *next = page->next_cursor;
    return ids;
  }

  std::vector<std::string> AllPages(EventSearchRequest r, const EventSearchOptions& o) {
    std::vector<std::string> all;
    for (int guard = 0; guard < 10000; ++guard) {
      std::optional<std::string> next;
      auto ids = Ids(r, o, &next);
      all.insert(all.end(), ids.begin(), ids.end());
      if (!next) break;
      r.after = DecodeEventCursor(*next).value();
    }
    return all;
  }

  // Ids of the appended events, newest first (all timestamps differ).
  std::vector<std::string> Expected() const {
    std::vector<Event> sorted = appended_;
    std::sort(sorted.begin(), sorted.end(),
              [](const Event& a, const Event& b) { return a.ts_us > b.ts_us; });
    std::vector<std::string> ids;
    for (const Event& e : sorted) ids.push_back(e.event_id);
    return ids;
  }

  std::string dir_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<EventStore> store_;
  std::vector<Event> appended_;
  std::vector<uint64_t> record_starts_;
};

TEST_F(LogTailSearchTest, AcknowledgedEventIsFoundBeforeTheStoreCommitsIt) {
  AppendRecord({MakeEvent("acme", "fresh-1", kT0, "signup", "u1", R"({"plan":"pro"})")});
  EXPECT_TRUE(Ids(Req({}), StoredOnly()).empty());  // DuckDB has nothing yet
  std::vector<std::string> json;
  EXPECT_EQ(Ids(Req({{"type", "signup"}}), WithTail(), nullptr, &json),
            std::vector<std::string>{"fresh-1"});
  ASSERT_EQ(json.size(), 1u);
  // Once stored, the stored row renders the same object.
  StoreFirst(1);
  std::vector<std::string> stored_json;
  EXPECT_EQ(Ids(Req({{"type", "signup"}}), StoredOnly(), nullptr, &stored_json),
            std::vector<std::string>{"fresh-1"});
  ASSERT_EQ(stored_json.size(), 1u);
  EXPECT_EQ(json[0], stored_json[0]);
}

// The freshness case of SPEC §1.7: a just-sent event of a type the store does not hold
// yet is answered from the tail without a single statement over the store's rows
// (store/type_ranges.h), and the same search is answered by the store once it commits.
TEST_F(LogTailSearchTest, ATypeTheStoreDoesNotHoldRunsNoStatement) {
  AppendNumbered(/*records=*/3, /*per_record=*/10);
  StoreFirst(30);
  AppendRecord({MakeEvent("acme", "first-of-its-type", kT0 + 100 * kSec, "brand_new")});
  auto page = SearchEvents(*store_, Req({{"type", "brand_new"}}), WithTail());
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_NE(page->events[0].find("first-of-its-type"), std::string::npos);
  EXPECT_EQ(page->statements, 0);
  // The stored types still run theirs, and so does the new one once stored.
  page = SearchEvents(*store_, Req({{"type", "buy"}}), WithTail());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 10u);
  EXPECT_GT(page->statements, 0);
  StoreFirst(31);
  EXPECT_EQ(Ids(Req({{"type", "brand_new"}}), StoredOnly()),
            std::vector<std::string>{"first-of-its-type"});
}

// When the tail alone fills the page, stored rows older than its last match cannot make
// it: the store is asked only for rows at or after that ts, and here, with its rows
// days older, one slice answers instead of a walk back through the days.
TEST_F(LogTailSearchTest, ATailThatFillsThePageBoundsTheStoredSearch) {
  std::vector<Event> old;
  for (int i = 0; i < 20; ++i) {
    old.push_back(MakeEvent("acme", "old" + std::to_string(i), kT0 - (i + 1) * 86400 * kSec));
  }
  AppendRecord(old);
  StoreFirst(20);
  std::vector<Event> fresh;
  for (int i = 0; i < 10; ++i) {
    fresh.push_back(MakeEvent("acme", "new" + std::to_string(i), kT0 + i * kSec));
  }
  AppendRecord(fresh);
  auto page = SearchEvents(*store_, Req({{"limit", "3"}}), WithTail());
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_LE(page->statements, 1);
  EXPECT_EQ(Ids(Req({{"limit", "3"}}), WithTail()),
            (std::vector<std::string>{"new9", "new8", "new7"}));
  // Every page still comes out once, in order, across the tail and the store.
  EXPECT_EQ(AllPages(Req({{"limit", "3"}}), WithTail()), Expected());
}

// The bound is inclusive: a stored event at the same ts as the tail's last match sorts
// before it when its event_id is larger, and must make the page.
TEST_F(LogTailSearchTest, AStoredEventTiedWithTheTailsLastMatchIsKept) {
  AppendRecord({MakeEvent("acme", "z", kT0)});
  StoreFirst(1);
  AppendRecord({MakeEvent("acme", "b", kT0 + kSec), MakeEvent("acme", "m", kT0),
                MakeEvent("acme", "c", kT0)});
  EXPECT_EQ(Ids(Req({{"limit", "2"}}), WithTail()), (std::vector<std::string>{"b", "z"}));
  EXPECT_EQ(AllPages(Req({{"limit", "2"}}), WithTail()),
            (std::vector<std::string>{"b", "z", "m", "c"}));
}

TEST_F(LogTailSearchTest, EachEventOnceWhileTheStoreIsPartWayThroughTheLog) {
  AppendNumbered(/*records=*/6, /*per_record=*/10);
  const std::vector<std::string> expected = Expected();
  // Nothing stored, inside the third record, on a record boundary, everything.
  for (size_t stored : {size_t{0}, size_t{25}, size_t{40}, size_t{60}}) {
    SCOPED_TRACE("stored " + std::to_string(stored));
    if (stored > 0) {
      // A fresh store holding exactly the first `stored` events, as after that commit.
      store_.reset();
      std::filesystem::remove(dir_ + "/sluice.duckdb");
      std::filesystem::remove(dir_ + "/sluice.duckdb.wal");
      auto s = EventStore::Open(dir_ + "/sluice.duckdb");
      ASSERT_TRUE(s.ok());
      store_ = std::move(*s);
      StoreFirst(stored);
    }
    for (int limit : {1, 7, 100}) {
      SCOPED_TRACE("limit " + std::to_string(limit));
      EXPECT_EQ(AllPages(Req({{"limit", std::to_string(limit)}}), WithTail()), expected);
    }
    EXPECT_EQ(AllPages(Req({}), StoredOnly()).size(), stored);
  }
}

TEST_F(LogTailSearchTest, PagingWhileTheStoreCatchesUpReturnsEveryEventOnce) {
  AppendNumbered(8, 10);
  StoreConsumerOptions opts;
  opts.batch_events = 15;  // batches that end inside records
  EventSearchRequest r = Req({{"limit", "9"}});
  std::vector<std::string> all;
  for (int page = 0; page < 100; ++page) {
    std::optional<std::string> next;
    auto ids = Ids(r, WithTail(), &next);
    all.insert(all.end(), ids.begin(), ids.end());
    if (!next) break;
    r.after = DecodeEventCursor(*next).value();
    if (page == 2) {
      // Between pages the store commits everything (several batches).
      StoreConsumer consumer(log_.get(), store_.get(), opts);
      ASSERT_TRUE(consumer.RunUntilCaughtUp().ok());
    }
  }
  EXPECT_EQ(all, Expected());
}

TEST_F(LogTailSearchTest, FiltersSelectWhatTheStoredSearchSelects) {
  const std::vector<std::string> props = {
      R"({"plan":"pro","n":2,"ok":true,"addr":{"city":"Paris","zip":"75001"}})",
      R"({"plan":"free","n":2.0,"ok":false,"addr":{"city":"Lyon"}})",
      R"({"plan":"pro","n":"2","ok":"true","tags":["a","b"],"o":{"x":1},"js":"{\"x\":1}"})",
      R"({"plan":null,"n":20e-1,"tags":["b"],"esc":"a\"b\\c\u00e9"})",
      R"({"n":19.99,"big":12345678901234567890,"o":{"x":1e-07},"k.dot":"v"})",
      "",
      R"({"plan":"PRO","n":-0,"ok":true,"addr":{"city":"Paris"}})",
  };
  std::vector<Event> events;
  for (size_t i = 0; i < 28; ++i) {
    events.push_back(MakeEvent(i % 9 == 8 ? "other" : "acme", "f" + std::to_string(i),
                               kT0 + static_cast<int64_t>(i) * kSec, i % 2 ? "buy" : "view",
                               i % 3 ? "u" + std::to_string(i % 4) : "", props[i % props.size()]));
  }
  AppendRecord({events.begin(), events.begin() + 13});
  AppendRecord({events.begin() + 13, events.end()});
  const std::vector<QueryParams> requests = {
      {},
      {{"type", "buy"}},
      {{"user_id", "u1"}},
      {{"from", std::to_string(kT0 / kSec + 5)}, {"to", std::to_string(kT0 / kSec + 20)}},
      {{"prop.plan", "pro"}},
      {{"prop.plan", "null"}},
      {{"prop.n", "2"}},
      {{"prop.n", "2.00"}},
      {{"prop.n", "0"}},
      {{"prop.n", "19.99"}},
      {{"prop.big", "12345678901234567890"}},
      {{"prop.ok", "true"}},
      {{"prop.ok", "false"}},
      {{"prop.addr.city", "Paris"}},
      {{"prop.addr.zip", "75001"}, {"type", "view"}},
      {{"prop.tags.0", "b"}},
      {{"prop.tags.1", "b"}},
      {{"prop.tags", R"(["b"])"}},
      {{"prop.o", R"({"x":1})"}},
      {{"prop.o", R"({"x":1e-07})"}},  // as stored; DuckDB would re-serialize it as 1e-7
      {{"prop.js", R"({"x":1})"}},     // a string that looks like an object
      {{"prop.esc", "a\"b\\c\u00e9"}},
      {{"prop.missing", "x"}},
      {{"prop.addr", "Paris"}},
      {{"prop.plan", "pro"}, {"prop.ok", "true"}, {"user_id", "u2"}},
  };
  // The tail's C++ filters, with nothing stored ...
  std::vector<std::vector<std::string>> from_tail;
  for (const QueryParams& p : requests) from_tail.push_back(AllPages(Req(p), WithTail()));
  // ... against DuckDB's SQL over the same events once stored.
  StoreConsumer consumer(log_.get(), store_.get(), {});
  ASSERT_TRUE(consumer.RunUntilCaughtUp().ok());
  for (size_t i = 0; i < requests.size(); ++i) {
    std::string shown;
    for (const auto& [k, v] : requests[i]) shown += k + "=" + v + " ";
    SCOPED_TRACE(shown);
    EXPECT_EQ(from_tail[i], AllPages(Req(requests[i]), StoredOnly()));
    EXPECT_EQ(from_tail[i], AllPages(Req(requests[i]), WithTail()));  // tail now empty
  }
  // Not vacuous: the filters select different, non-empty sets.
  EXPECT_EQ(from_tail[0].size(), 25u);  // 28 less the other tenant's 3
  EXPECT_FALSE(from_tail[6].empty());
  EXPECT_NE(from_tail[6], from_tail[0]);
  const size_t objects = 18, json_text = 20;  // prop.o={"x":1}, prop.js={"x":1}
  EXPECT_TRUE(from_tail[objects].empty()) << "objects and arrays never match";
  EXPECT_FALSE(from_tail[json_text].empty()) << "a string matches by its text";
}

TEST_F(LogTailSearchTest, AnotherTenantsTailIsNotSearched) {
  AppendRecord({MakeEvent("acme", "mine", kT0, "x"), MakeEvent("b", "theirs", kT0 + 1, "x")});
  EXPECT_EQ(Ids(Req({}, "acme"), WithTail()), std::vector<std::string>{"mine"});
  EXPECT_EQ(Ids(Req({}, "b"), WithTail()), std::vector<std::string>{"theirs"});
  EXPECT_TRUE(Ids(Req({}, "c"), WithTail()).empty());
}

// Records are skipped undecoded when their bytes lack the requested type or user
// (MayHoldMatch): connector records, records with the value only in another field, and
// the record the store stopped inside of must still give exactly their matches.
TEST_F(LogTailSearchTest, TypeAndUserFiltersFindMatchesInEveryKindOfRecord) {
  AppendRecord(
      {MakeEvent("acme", "b1", kT0, "buy", "u1"), MakeEvent("acme", "v1", kT0 + 1, "view", "u2")});
  AppendRecord({MakeEvent("acme", "c1", kT0 + 2, "buy", "u9"),
                MakeEvent("acme", "c2", kT0 + 3, "view", "u9")},
               ConnectorCheckpoint{"acme", "shop", "cursor-1"});
  // "buy" and "u9" appear in this record, but not as its event's type or user.
  AppendRecord({MakeEvent("acme", "p1", kT0 + 4, "view", "u3", R"({"note":"buy","by":"u9"})")});
  AppendRecord({MakeEvent("acme", "v2", kT0 + 5, "view", "u4")});
  const std::vector<std::string> buys{"c1", "b1"}, u9{"c2", "c1"};
  EXPECT_EQ(AllPages(Req({{"type", "buy"}}), WithTail()), buys);
  EXPECT_EQ(AllPages(Req({{"user_id", "u9"}}), WithTail()), u9);
  EXPECT_EQ(AllPages(Req({{"type", "buy"}, {"user_id", "u9"}}), WithTail()),
            std::vector<std::string>{"c1"});
  EXPECT_TRUE(AllPages(Req({{"type", "buy"}}, "other"), WithTail()).empty());
  // The store stopped after the connector record's first event: c1 is a stored row now,
  // c2 still only in the tail; each is found once.
  StoreFirst(3);
  EXPECT_EQ(AllPages(Req({{"type", "buy"}}), StoredOnly()), buys);
  EXPECT_EQ(AllPages(Req({{"type", "buy"}}), WithTail()), buys);
  EXPECT_EQ(AllPages(Req({{"user_id", "u9"}}), WithTail()), u9);
}

TEST_F(LogTailSearchTest, ByteBoundShowsAPrefixOfTheLog) {
  AppendNumbered(3, 10);
  // One byte reads one record: the oldest ten events, the newer ones wait for the store.
  auto ids = AllPages(Req({}), WithTail(1));
  std::vector<std::string> expected;
  for (int n = 9; n >= 0; --n) expected.push_back("e" + std::to_string(n));
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(AllPages(Req({}), WithTail(0)).empty());
  // The scan reports where it stopped.
  auto scan = SearchLogTail(*log_, {}, Req({}), 100, 1);
  ASSERT_TRUE(scan.ok());
  EXPECT_TRUE(scan->truncated);
  EXPECT_EQ(scan->events.size(), 10u);
}

TEST(PropertyMatchesTest, ScalarsNestedAndNeverMatching) {
  auto f = [](std::vector<std::string> path, std::string value) {
    return PropertyFilter{std::move(path), std::move(value)};
  };
  const std::string p = R"({"a":{"b":"x~/y"},"n":1e2,"s":"100","t":true,"z":null,"l":[1,{"q":2}]})";
  EXPECT_TRUE(PropertyMatches(p, f({"a", "b"}, "x~/y")));
  EXPECT_TRUE(PropertyMatches(p, f({"n"}, "100")));
  EXPECT_TRUE(PropertyMatches(p, f({"n"}, "100.0")));
  EXPECT_FALSE(PropertyMatches(p, f({"n"}, "1e3")));
  EXPECT_TRUE(PropertyMatches(p, f({"s"}, "100")));
  EXPECT_FALSE(PropertyMatches(p, f({"s"}, "100.0")));  // a string matches by text only
  EXPECT_TRUE(PropertyMatches(p, f({"t"}, "true")));
  EXPECT_FALSE(PropertyMatches(p, f({"z"}, "null")));
  EXPECT_TRUE(PropertyMatches(p, f({"l", "1", "q"}, "2")));
  EXPECT_FALSE(PropertyMatches(p, f({"l", "2"}, "2")));
  EXPECT_FALSE(PropertyMatches(p, f({"a"}, R"({"b":"x~/y"})")));  // objects never match
  EXPECT_FALSE(PropertyMatches(p, f({"l"}, R"([1,{"q":2}])")));   // nor arrays
  EXPECT_FALSE(PropertyMatches("", f({"a"}, "x")));
  EXPECT_FALSE(PropertyMatches("{not json", f({"a"}, "x")));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The store commits past a search's snapshot position and the log collects that segment:
// the scan must not skip ahead silently (the events in between would be in neither part)
// but ask for a newer snapshot; only a caller that allows it starts at the log's start.
TEST_F(LogTailSearchTest, ACollectedPositionAsksForANewerSnapshot) {
  log_.reset();
  std::filesystem::remove_all(dir_ + "/log");
  LogOptions lo;
  lo.dir = dir_ + "/log";
  lo.fsync = false;
  lo.segment_bytes = 4096;  // a few records a segment
  RecoveryReport report;
  auto l = Log::Open(lo, &report);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  log_ = std::move(*l);
  AppendNumbered(20, 10);
  ASSERT_TRUE(log_->RegisterConsumer("store").ok());
  ASSERT_TRUE(log_->CommitConsumerOffset("store", record_starts_[15]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  ASSERT_GT(log_->start_offset(), record_starts_[1]) << "nothing was collected";
  const ConsumerPosition stale{record_starts_[1], 3};
  auto scan = SearchLogTail(*log_, stale, Req({}), 1000, 128ull << 20,
                            /*from_start_if_collected=*/false);
  ASSERT_FALSE(scan.ok());
  EXPECT_EQ(scan.status().code(), Status::Code::kNotFound) << scan.status().ToString();
  scan = SearchLogTail(*log_, stale, Req({}), 1000, 128ull << 20, true);
  ASSERT_TRUE(scan.ok()) << scan.status().ToString();
  EXPECT_FALSE(scan->events.empty());
  EXPECT_LT(scan->events.size(), appended_.size());
}

}  // namespace
}  // namespace sluice
