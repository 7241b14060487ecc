// Event search against a real EventStore in a temp dir: request parsing and its 400s, the
// cursor's encoding and validation, each filter, the order, pagination that returns every
// event once (also while events arrive between pages), tenant isolation, and time slices
// that return exactly what one plain statement returns.
#include "query/event_search.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "make_event.h"

namespace sluice {
namespace {

constexpr int64_t kT0 = 1732500000000000;  // 2024-11-25T02:00:00Z
constexpr int64_t kSec = 1000000;

QueryParams Params(std::initializer_list<std::pair<std::string, std::string>> p) {
  return QueryParams(p);
}

class EventSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-search-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = EventStore::Open(dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Append(const std::vector<Event>& events) {
    ASSERT_TRUE(store_->AppendBatch(events, "store", ++offset_).ok());
  }

  // ids of one page; fails the test on error.
  std::vector<std::string> Ids(const EventSearchRequest& r,
                               std::optional<std::string>* next = nullptr,
                               const EventSearchOptions& opts = {}) {
    auto page = SearchEvents(*store_, r, opts);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (!page.ok()) return ids;
    for (const auto& e : page->events) {
      const size_t a = e.find("\"event_id\":\"") + 12;
      ids.push_back(e.substr(a, e.find('"', a) - a));
    }
    if (next) *next = page->next_cursor;
    return ids;
  }

  EventSearchRequest Req(QueryParams p, const std::string& tenant = "default") {
    auto r = ParseEventSearchRequest(tenant, p, 1000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : EventSearchRequest{};
  }

  // Follows next_cursor to the end; the concatenated ids.
  std::vector<std::string> AllPages(EventSearchRequest r, const EventSearchOptions& opts = {}) {
    std::vector<std::string> all;
    for (int guard = 0; guard < 10000; ++guard) {
      std::optional<std::string> next;
      auto ids = Ids(r, &next, opts);
      all.insert(all.end(), ids.begin(), ids.end());
      if (!next) break;
      r.after = DecodeEventCursor(*next).value();
    }
    return all;
  }

  std::string dir_;
  std::unique_ptr<EventStore> store_;
  uint64_t offset_ = 0;
};

// ---- request parsing ----

TEST(EventSearchRequestTest, Defaults) {
  auto r = ParseEventSearchRequest("t", {}, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tenant, "t");
  EXPECT_EQ(r->limit, 100);
  EXPECT_FALSE(r->type || r->user_id || r->from_us || r->to_us || r->after);
  // A smaller configured maximum caps the default too.
  EXPECT_EQ(ParseEventSearchRequest("t", {}, 10)->limit, 10);
}

TEST(EventSearchRequestTest, AllParameters) {
  auto r = ParseEventSearchRequest("t",
                                   Params({{"type", "click"},
                                           {"user_id", "u1"},
                                           {"from", "2024-11-25T02:00:00Z"},
                                           {"to", "1732503600"},
                                           {"limit", "7"},
                                           {"prop.plan", "pro"},
                                           {"prop.address.city", "Paris"}}),
                                   1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->type, "click");
  EXPECT_EQ(*r->user_id, "u1");
  EXPECT_EQ(*r->from_us, kT0);
  EXPECT_EQ(*r->to_us, kT0 + 3600 * kSec);
  EXPECT_EQ(r->limit, 7);
  ASSERT_EQ(r->properties.size(), 2u);
  EXPECT_EQ(r->properties[1].path, (std::vector<std::string>{"address", "city"}));
  EXPECT_EQ(r->properties[1].value, "Paris");
}

TEST(EventSearchRequestTest, EmptyValuesAreAbsent) {
  auto r = ParseEventSearchRequest(
      "t", Params({{"type", ""}, {"user_id", ""}, {"from", ""}, {"to", ""}, {"limit", ""}}), 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->type || r->user_id || r->from_us || r->to_us);
  EXPECT_EQ(r->limit, 100);
}

TEST(EventSearchRequestTest, ClearErrors) {
  auto err = [](QueryParams p) {
    auto r = ParseEventSearchRequest("t", p, 1000);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    return r.status().message();
  };
  EXPECT_NE(err(Params({{"tpye", "x"}})).find("unknown parameter \"tpye\""), std::string::npos);
  EXPECT_NE(err(Params({{"type", "a"}, {"type", "b"}})).find("more than once"), std::string::npos);
  EXPECT_NE(err(Params({{"from", "yesterday"}})).find("from: timestamp"), std::string::npos);
  EXPECT_NE(err(Params({{"to", "2024-11-25T02:00:00"}})).find("to: "), std::string::npos);
  EXPECT_NE(err(Params({{"from", "2024-11-25"}, {"to", "2024-11-25"}})).find("earlier"),
            std::string::npos);
  for (const char* bad : {"0", "-1", "1001", "10x", "1e2", " 5", "99999999999"}) {
    EXPECT_NE(err(Params({{"limit", bad}})).find("limit must be an integer from 1 to 1000"),
              std::string::npos)
        << bad;
  }
  for (const char* bad : {"prop.", "prop.a.", "prop..a", "prop.a..b"}) {
    EXPECT_NE(err(Params({{bad, "x"}})).find("empty key"), std::string::npos) << bad;
  }
  EXPECT_NE(err(Params({{"cursor", "not a cursor"}})).find("cursor: "), std::string::npos);
  QueryParams many;
  for (int i = 0; i < 17; ++i) many.emplace_back("prop.k" + std::to_string(i), "v");
  EXPECT_NE(err(many).find("at most 16"), std::string::npos);
}

// ---- cursor ----

TEST(EventCursorTest, RoundTrip) {
  for (const EventCursor& c :
       {EventCursor{kT0, "0192f3a4-7b1c-7d2e-8f90-000000000001"},
        EventCursor{-62135596800LL * 1000000, "x"}, EventCursor{0, std::string(128, '\xff')}}) {
    const std::string s = EncodeEventCursor(c);
    EXPECT_EQ(
        s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    auto d = DecodeEventCursor(s);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->ts_us, c.ts_us);
    EXPECT_EQ(d->event_id, c.event_id);
  }
}

TEST(EventCursorTest, WireFormatIsStable) {
  // Cursors handed out earlier must keep decoding: this pins the format (also the fuzz seed).
  EXPECT_EQ(EncodeEventCursor({kT0, "event-1"}), "AQAGJ7MXEsgAZXZlbnQtMemaPTY");
}

TEST(EventCursorTest, TamperedCursorsAreRefused) {
  const std::string good = EncodeEventCursor({kT0, "event-1"});
  // Every single-character change, and every truncation, is refused.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = alphabet[(alphabet.find(bad[i]) + 1) % 64];
    EXPECT_FALSE(DecodeEventCursor(bad).ok()) << i;
    EXPECT_FALSE(DecodeEventCursor(good.substr(0, i)).ok()) << i;
  }
  EXPECT_FALSE(DecodeEventCursor(good + "A").ok());
  EXPECT_FALSE(DecodeEventCursor(good + "=").ok());
  EXPECT_FALSE(DecodeEventCursor(std::string(10000, 'A')).ok());
  EXPECT_FALSE(DecodeEventCursor("").ok());
  // Right checksum, wrong version: also refused.
  std::string raw = std::string("\x02") + std::string(8, '\0') + "id";
  EXPECT_FALSE(DecodeEventCursor(Base64UrlEncode(raw + "\0\0\0\0")).ok());
}

TEST(EventCursorTest, Base64UrlVectors) {
  // RFC 4648 §10, without padding, url alphabet.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("Zm9vYg").value(), "foob");
  EXPECT_EQ(Base64UrlDecode("-_8").value(), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());  // non-zero trailing bits
  EXPECT_FALSE(Base64UrlDecode("Z").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9v+").ok());
}

// ---- search ----

TEST_F(EventSearchTest, NewestFirstWithEventIdTieBreak) {
  Append({MakeEvent("default", "b", kT0), MakeEvent("default", "a", kT0 + kSec),
          MakeEvent("default", "c", kT0), MakeEvent("default", "d", kT0 - kSec)});
  EXPECT_EQ(Ids(Req({})), (std::vector<std::string>{"a", "c", "b", "d"}));
}

TEST_F(EventSearchTest, PageJsonShape) {
  Event e = MakeEvent("default", "id\"1", kT0 + 123456, "cl\\ick", "u1", R"({"a":[1,{"b":null}]})");
  e.anonymous_id = "anon";
  e.context = R"({"ip":"10.0.0.1"})";
  Append({e, MakeEvent("default", "id2", kT0)});
  EventSearchRequest r = Req({{"limit", "1"}});
  auto page = SearchEvents(*store_, r);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0],
            R"({"event_id":"id\"1","type":"cl\\ick","timestamp":"2024-11-25T02:00:00.123456Z",)"
            R"("received_at":"2024-11-25T02:00:00.128456Z","user_id":"u1","anonymous_id":"anon",)"
            R"("properties":{"a":[1,{"b":null}]},"context":{"ip":"10.0.0.1"},"source":"http"})");
  ASSERT_TRUE(page->next_cursor);
  EXPECT_EQ(page->ToJson(), "{\"events\":[" + page->events[0] + "],\"next_cursor\":\"" +
                                *page->next_cursor + "\"}");
  r.after = DecodeEventCursor(*page->next_cursor).value();
  page = SearchEvents(*store_, r);
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->events[0].find(R"("user_id":null,"anonymous_id":null)"), std::string::npos);
  EXPECT_NE(page->events[0].find(R"("context":null)"), std::string::npos);
  EXPECT_FALSE(page->next_cursor);  // the last page says so
  EXPECT_EQ(page->ToJson().substr(page->ToJson().size() - 21), "],\"next_cursor\":null}");
}

TEST_F(EventSearchTest, EmptyStore) {
  auto page = SearchEvents(*store_, Req({}));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->ToJson(), R"({"events":[],"next_cursor":null})");
}

TEST_F(EventSearchTest, TypeAndUserFilters) {
  Append({MakeEvent("default", "1", kT0, "click", "u1"),
          MakeEvent("default", "2", kT0 + 1, "view", "u1"),
          MakeEvent("default", "3", kT0 + 2, "click", "u2"),
          MakeEvent("default", "4", kT0 + 3, "click")});
  EXPECT_EQ(Ids(Req({{"type", "click"}})), (std::vector<std::string>{"4", "3", "1"}));
  EXPECT_EQ(Ids(Req({{"user_id", "u1"}})), (std::vector<std::string>{"2", "1"}));
  EXPECT_EQ(Ids(Req({{"type", "click"}, {"user_id", "u1"}})), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(Ids(Req({{"type", "nope"}})).empty());
  // A value that looks like SQL is only ever a value.
  EXPECT_TRUE(Ids(Req({{"type", "click' OR '1'='1"}})).empty());
}

TEST_F(EventSearchTest, FromInclusiveToExclusive) {
  Append({MakeEvent("default", "a", kT0), MakeEvent("default", "b", kT0 + kSec),
          MakeEvent("default", "c", kT0 + 2 * kSec)});
  EventSearchRequest r = Req({});
  r.from_us = kT0 + kSec;
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"c", "b"}));
  r.to_us = kT0 + 2 * kSec;
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Ids(Req({{"from", "2024-11-25T03:00:01+01:00"}})),
            (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(Ids(Req({{"to", "1732500001000"}})), (std::vector<std::string>{"a"}));  // unix ms
}

TEST_F(EventSearchTest, PropertyEquality) {
  Append({MakeEvent("default", "s", kT0, "x", "", R"({"plan":"pro","n":2,"ok":true})"),
          MakeEvent("default", "f", kT0 + 1, "x", "", R"({"plan":"free","n":2.0,"ok":false})"),
          MakeEvent("default", "t", kT0 + 2, "x", "", R"({"plan":"2","n":"2","ok":"true"})"),
          MakeEvent("default", "nest", kT0 + 3, "x", "",
                    R"({"address":{"city":"Paris","zip":75001},"a/b":{"~c":"y"},"nul":null})"),
          MakeEvent("default", "obj", kT0 + 4, "x", "", R"({"plan":{"name":"pro"}})")});
  EXPECT_EQ(Ids(Req({{"prop.plan", "pro"}})), (std::vector<std::string>{"s"}));
  EXPECT_TRUE(Ids(Req({{"prop.plan", "PRO"}})).empty());  // exact, case-sensitive
  // A number matches numerically equal numbers, and strings with exactly its text.
  EXPECT_EQ(Ids(Req({{"prop.n", "2"}})), (std::vector<std::string>{"t", "f", "s"}));
  EXPECT_EQ(Ids(Req({{"prop.n", "2.0"}})), (std::vector<std::string>{"f", "s"}));
  EXPECT_EQ(Ids(Req({{"prop.n", "2e0"}})), (std::vector<std::string>{"f", "s"}));
  EXPECT_EQ(Ids(Req({{"prop.ok", "true"}})), (std::vector<std::string>{"t", "s"}));
  EXPECT_EQ(Ids(Req({{"prop.ok", "false"}})), (std::vector<std::string>{"f"}));
  // Nested keys with dots; keys with '/' and '~' need no escaping from the caller.
  EXPECT_EQ(Ids(Req({{"prop.address.city", "Paris"}})), (std::vector<std::string>{"nest"}));
  EXPECT_EQ(Ids(Req({{"prop.address.zip", "75001"}})), (std::vector<std::string>{"nest"}));
  EXPECT_EQ(Ids(Req({{"prop.a/b.~c", "y"}})), (std::vector<std::string>{"nest"}));
  EXPECT_TRUE(Ids(Req({{"prop.address", "Paris"}})).empty());
  EXPECT_TRUE(Ids(Req({{"prop.nul", "null"}})).empty());  // JSON null never matches
  EXPECT_TRUE(Ids(Req({{"prop.missing", "x"}})).empty());
  EXPECT_EQ(Ids(Req({{"prop.plan", "pro"}, {"prop.n", "2"}})), (std::vector<std::string>{"s"}));
}

TEST_F(EventSearchTest, PagesCoverEverythingExactlyOnce) {
  // 250 events, many sharing a timestamp, so pages split ties.
  std::vector<Event> events;
  std::set<std::string> want;
  for (int i = 0; i < 250; ++i) {
    std::string id = "e" + std::to_string(i * 7919 % 1000);
    events.push_back(MakeEvent("default", id, kT0 + (i / 10) * kSec, i % 2 ? "a" : "b"));
    want.insert(id);
  }
  Append(events);
  for (int limit : {1, 7, 10, 100, 250, 1000}) {
    auto all = AllPages(Req({{"limit", std::to_string(limit)}}));
    ASSERT_EQ(all.size(), want.size()) << limit;
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), want) << limit;
  }
  // Filters keep working across pages.
  auto as = AllPages(Req({{"limit", "9"}, {"type", "a"}}));
  EXPECT_EQ(as.size(), 125u);
}

TEST_F(EventSearchTest, PagingWhileEventsArrive) {
  std::vector<Event> events;
  std::set<std::string> before;
  for (int i = 0; i < 100; ++i) {
    events.push_back(MakeEvent("default", "old" + std::to_string(i), kT0 + i * kSec));
    before.insert(events.back().event_id);
  }
  Append(events);
  EventSearchRequest r = Req({{"limit", "10"}});
  std::vector<std::string> seen;
  std::set<std::string> late_older;
  for (int page = 0; page < 100; ++page) {
    std::optional<std::string> next;
    auto ids = Ids(r, &next);
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!next) break;
    r.after = DecodeEventCursor(*next).value();
    // Between pages: newer events (must not shift anything), and a late one older than
    // the cursor (must show up once, later).
    Append({MakeEvent("default", "new" + std::to_string(page), kT0 + (1000 + page) * kSec),
            MakeEvent("default", "late" + std::to_string(page), kT0 + 5 * kSec + page)});
    if (r.after->ts_us > kT0 + 5 * kSec + page) late_older.insert("late" + std::to_string(page));
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "an event was returned twice";
  for (const auto& id : before) EXPECT_TRUE(unique.count(id)) << id;
  for (const auto& id : late_older) EXPECT_TRUE(unique.count(id)) << id;
  for (const auto& id : unique) EXPECT_NE(id.rfind("new", 0), 0u) << id;
}

TEST_F(EventSearchTest, TenantIsolation) {
  Append({MakeEvent("A", "a1", kT0, "click", "u"), MakeEvent("B", "b1", kT0 + 1, "click", "u"),
          MakeEvent("B", "b2", kT0 + 2, "click", "u")});
  EXPECT_EQ(AllPages(Req({}, "A")), (std::vector<std::string>{"a1"}));
  EXPECT_EQ(AllPages(Req({{"limit", "1"}}, "B")), (std::vector<std::string>{"b2", "b1"}));
  // B's cursor used by A still only reads A.
  std::optional<std::string> next;
  Ids(Req({{"limit", "1"}}, "B"), &next);
  ASSERT_TRUE(next);
  EXPECT_EQ(Ids(Req({{"cursor", *next}}, "A")), (std::vector<std::string>{"a1"}));
  EXPECT_TRUE(Ids(Req({}, "C")).empty());
  // An empty tenant would mean "all tenants" to the store: refused.
  EXPECT_FALSE(SearchEvents(*store_, Req({}, "")).ok());
}

// A type that only exists a decade back: the slices start at its own newest event
// instead of walking back from now (store/type_ranges.h), and a type the store does not
// hold runs no statement.
TEST_F(EventSearchTest, TypeRangeBoundsTheSlices) {
  const int64_t now = kT0;
  const int64_t decade = 3650LL * 86400 * kSec;
  std::vector<Event> events;
  for (int i = 0; i < 50; ++i) {
    events.push_back(MakeEvent("default", "recent" + std::to_string(i), now - i * kSec));
  }
  events.push_back(MakeEvent("default", "old1", now - decade, "rare"));
  events.push_back(MakeEvent("default", "old2", now - decade - kSec, "rare"));
  events.push_back(MakeEvent("other", "theirs", now, "rare"));  // not this tenant's range
  Append(events);
  EventSearchOptions opts;
  opts.now_us = now;
  auto page = SearchEvents(*store_, Req({{"type", "rare"}}), opts);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->events.size(), 2u);
  EXPECT_LE(page->statements, 2);  // one slice: its narrowing count and its rows
  page = SearchEvents(*store_, Req({{"type", "absent"}}), opts);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(page->statements, 0);
  // Bounds given by the caller still apply inside the range.
  EXPECT_EQ(
      Ids(Req({{"type", "rare"}, {"to", std::to_string((now - decade) / kSec)}}), nullptr, opts),
      std::vector<std::string>{"old2"});
  EXPECT_TRUE(
      Ids(Req({{"type", "rare"}, {"from", std::to_string((now - kSec) / kSec)}}), nullptr, opts)
          .empty());
  // A tenant marked unknown (its archive could not be read when the ranges were built) is
  // searched without them, whatever ranges it holds.
  ASSERT_TRUE(store_
                  ->Execute("UPDATE sluice_type_ranges SET min_ts = max_ts WHERE type = 'rare';"
                            "INSERT INTO sluice_type_ranges VALUES ('default', '', "
                            "make_timestamp(0::BIGINT), make_timestamp(0::BIGINT))")
                  .ok());
  EXPECT_EQ(Ids(Req({{"type", "rare"}}), nullptr, opts),
            (std::vector<std::string>{"old1", "old2"}));
  page = SearchEvents(*store_, Req({{"type", "absent"}}), opts);
  ASSERT_TRUE(page.ok());
  EXPECT_GT(page->statements, 0);
}

TEST_F(EventSearchTest, TimeSlicesReturnWhatOneStatementReturns) {
  // Events from minutes to decades before "now", in bursts, so pages cross many slices.
  const int64_t now = kT0;
  std::mt19937_64 rng(1);
  std::vector<Event> events;
  const char* types[] = {"a", "b", "c"};
  for (int i = 0; i < 600; ++i) {
    const int64_t back = static_cast<int64_t>(rng() % (i < 200   ? 3600
                                                       : i < 400 ? 86400 * 30
                                                                 : 86400LL * 3650)) *
                         kSec;
    events.push_back(MakeEvent("default", "e" + std::to_string(i), now - back, types[rng() % 3],
                               "u" + std::to_string(rng() % 5)));
  }
  events.push_back(MakeEvent("default", "future", now + 86400 * kSec));
  events.push_back(MakeEvent("default", "ancient", -30000000000LL * kSec));  // year 1019
  Append(events);
  EventSearchOptions sliced, plain;
  sliced.now_us = plain.now_us = now;
  plain.time_slices = false;
  std::vector<QueryParams> cases = {
      {},
      {{"type", "b"}},
      {{"user_id", "u3"}},
      {{"type", "c"}, {"from", std::to_string((now - 40LL * 86400 * kSec) / kSec)}},
      {{"to", std::to_string((now - 2 * 3600 * kSec) / kSec)}},
      {{"from", std::to_string((now - 1800 * kSec) / kSec)},
       {"to", std::to_string((now + 10 * kSec) / kSec)}},
  };
  for (const auto& c : cases) {
    for (int limit : {3, 50, 1000}) {
      EventSearchRequest r = Req(c);
      r.limit = limit;
      auto a = AllPages(r, sliced);
      auto b = AllPages(r, plain);
      EXPECT_EQ(a, b) << "limit " << limit << " case " << (c.empty() ? "" : c[0].first);
      EXPECT_FALSE(a.empty());
    }
  }
  EXPECT_EQ(AllPages(Req({}), sliced).size(), 602u);
}

}  // namespace
}  // namespace sluice
