// GET /v1/events end to end against the real server: an accepted event is searchable
// within 1 s (SPEC §1.7) with the default store settings, filters, paging with the
// cursor, and clear 400s for bad requests.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace sluice::test {
namespace {

// Default store settings (batch_ms 200): freshness is measured as shipped.
const char* kConfig = R"([dedupe]
capacity_slots = 65536
[search]
max_limit = 50
)";

struct Page {
  long status = 0;
  std::vector<std::string> ids;
  std::string next_cursor;  // empty when null
  std::string error;
  std::string body;
};

class SearchHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("search");
    server_ = std::make_unique<ServerProcess>(dir_ + "/data", kConfig);
    ASSERT_TRUE(server_->Start()) << server_->log_text();
  }
  void TearDown() override {
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    RemoveTree(dir_);
  }

  void Post(const std::string& ndjson) {
    auto r =
        HttpPost(server_->url() + "/v1/events", ndjson, {"Content-Type: application/x-ndjson"});
    ASSERT_EQ(r.status, 202) << r.body;
  }

  Page Get(const std::string& query) {
    Page p;
    auto r = HttpGet(server_->url() + "/v1/events" + query);
    p.status = r.status;
    p.body = r.body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc)) {
      ADD_FAILURE() << "not JSON: " << r.body;
      return p;
    }
    std::string_view s;
    if (!doc["error"].get_string().get(s)) p.error = std::string(s);
    simdjson::dom::array events;
    if (!doc["events"].get_array().get(events)) {
      for (auto e : events) p.ids.emplace_back(std::string_view(e["event_id"].get_string()));
    }
    if (!doc["next_cursor"].get_string().get(s)) p.next_cursor = std::string(s);
    return p;
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SearchHttpTest, AcceptedEventIsSearchableWithinOneSecond) {
  for (int round = 0; round < 5; ++round) {
    const std::string id = "fresh-" + std::to_string(round);
    const auto t0 = std::chrono::steady_clock::now();
    Post(R"({"event_id":")" + id + R"(","type":"fresh"})");
    Page p;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3)) {
      p = Get("?type=fresh&limit=1");
      ASSERT_EQ(p.status, 200) << p.body;
      if (!p.ids.empty() && p.ids[0] == id) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ASSERT_FALSE(p.ids.empty());
    EXPECT_EQ(p.ids[0], id);
    EXPECT_LE(ms, 1000) << "round " << round;
  }
}

// A store that holds its batches for a minute: what search finds, it finds in the log's
// tail (query/log_tail_search.h), and SQL, which reads only the store, proves the store
// does not have it yet. After a restart the store has it, and it is still found once.
TEST(SearchLogTailHttpTest, AcknowledgedEventIsFoundBeforeTheStoreHasIt) {
  const std::string dir = MakeTempDir("search-tail");
  const std::string config = std::string(kConfig) + "[store]\nbatch_ms = 60000\n";
  auto count_sql = [](const ServerProcess& s) {
    return HttpPost(s.url() + "/v1/query",
                    R"({"sql":"SELECT count(*) AS n FROM events WHERE type = 'tail'"})",
                    {"Content-Type: application/json"});
  };
  auto ids = [](const ServerProcess& s) {
    auto r = HttpGet(s.url() + "/v1/events?type=tail");
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc)) return out;
    for (auto e : doc["events"].get_array()) {
      out.emplace_back(std::string_view(e["event_id"].get_string()));
    }
    return out;
  };
  {
    ServerProcess server(dir + "/data", config);
    ASSERT_TRUE(server.Start()) << server.log_text();
    auto r = HttpPost(server.url() + "/v1/events",
                      R"({"event_id":"t1","type":"tail","properties":{"k":"v"}})"
                      "\n"
                      R"({"event_id":"t2","type":"tail","properties":{"k":"w"}})",
                      {"Content-Type: application/x-ndjson"});
    ASSERT_EQ(r.status, 202) << r.body;
    // At once, no polling: the 202 means durable in the log, and search reads it there.
    EXPECT_EQ(ids(server), (std::vector<std::string>{"t2", "t1"}));
    auto f = HttpGet(server.url() + "/v1/events?type=tail&prop.k=w");
    EXPECT_NE(f.body.find("\"t2\""), std::string::npos) << f.body;
    EXPECT_EQ(f.body.find("\"t1\""), std::string::npos) << f.body;
    auto q = count_sql(server);
    ASSERT_EQ(q.status, 200) << q.body;
    EXPECT_NE(q.body.find("[[0]]"), std::string::npos) << "stored already: " << q.body;
    EXPECT_EQ(server.Stop(), 0) << server.log_text();  // commits the held batch
  }
  ServerProcess server(dir + "/data", config);
  ASSERT_TRUE(server.Start()) << server.log_text();
  auto q = count_sql(server);
  EXPECT_NE(q.body.find("[[2]]"), std::string::npos) << q.body;
  EXPECT_EQ(ids(server), (std::vector<std::string>{"t2", "t1"}));
  EXPECT_EQ(server.Stop(), 0) << server.log_text();
  RemoveTree(dir);
}

TEST_F(SearchHttpTest, FiltersAndEventShape) {
  Post(
      R"({"event_id":"e1","type":"click","userId":"u1","timestamp":"2026-01-02T03:04:05Z","properties":{"plan":"pro","cart":{"items":3}}}
{"event_id":"e2","type":"view","user_id":"u1","timestamp":"2026-01-02T03:04:06+00:00","properties":{"plan":"free"}}
{"event_id":"e3","type":"click","user_id":"u2","timestamp":1767323047,"anonymousId":"an","context":{"ip":"10.0.0.1"}})");
  Page all;
  for (int i = 0; i < 300 && all.ids.size() < 3; ++i) {
    all = Get("");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(all.ids, (std::vector<std::string>{"e3", "e2", "e1"}));
  EXPECT_TRUE(all.next_cursor.empty());
  EXPECT_NE(
      all.body.find(
          R"({"event_id":"e3","type":"click","timestamp":"2026-01-02T03:04:07.000000Z","received_at":")"),
      std::string::npos)
      << all.body;
  EXPECT_NE(
      all.body.find(
          R"("user_id":"u2","anonymous_id":"an","properties":{},"context":{"ip":"10.0.0.1"},"source":"http"})"),
      std::string::npos)
      << all.body;

  EXPECT_EQ(Get("?type=click").ids, (std::vector<std::string>{"e3", "e1"}));
  EXPECT_EQ(Get("?user_id=u1").ids, (std::vector<std::string>{"e2", "e1"}));
  EXPECT_EQ(Get("?type=click&user_id=u1").ids, (std::vector<std::string>{"e1"}));
  EXPECT_EQ(Get("?prop.plan=pro").ids, (std::vector<std::string>{"e1"}));
  EXPECT_EQ(Get("?prop.cart.items=3").ids, (std::vector<std::string>{"e1"}));
  EXPECT_EQ(Get("?from=2026-01-02T03:04:06Z").ids, (std::vector<std::string>{"e3", "e2"}));
  EXPECT_EQ(Get("?from=2026-01-02T04:04:06%2B01:00&to=2026-01-02T03:04:07Z").ids,
            (std::vector<std::string>{"e2"}));
  EXPECT_EQ(Get("?to=1767323046000").ids, (std::vector<std::string>{"e1"}));  // unix ms
  EXPECT_EQ(Get("?type=&user_id=&from=&to=&limit=&cursor=").ids.size(), 3u);
  EXPECT_TRUE(Get("?type=nothing").ids.empty());
}

TEST_F(SearchHttpTest, PagingWithCursor) {
  std::string body;
  for (int i = 0; i < 120; ++i) {
    body += R"({"event_id":"p)" + std::to_string(i) + R"(","type":"t","timestamp":)" +
            std::to_string(1767323000 + i / 3) + "}\n";
  }
  Post(body);
  for (int i = 0; i < 300 && Get("?limit=50").next_cursor.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    Page p = Get("?limit=50" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(p.status, 200) << p.body;
    seen.insert(seen.end(), p.ids.begin(), p.ids.end());
    cursor = p.next_cursor;
    // New events between pages do not disturb the walk.
    Post(R"({"event_id":"new)" + std::to_string(pages) + R"(","type":"t"})");
  } while (!cursor.empty() && ++pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 120u);
  EXPECT_EQ(seen.front(), "p119");
}

TEST_F(SearchHttpTest, BadRequestsAre400WithAReason) {
  struct Case {
    std::string query, error_has;
  };
  const std::string cursor = "AQAAAAAAAAAAaWQ";
  for (const Case& c : std::vector<Case>{
           {"?tpye=click", "unknown parameter \"tpye\""},
           {"?limit=0", "limit must be an integer from 1 to 50"},
           {"?limit=51", "limit must be an integer from 1 to 50"},
           {"?limit=abc", "limit must be"},
           {"?from=yesterday", "from: timestamp"},
           {"?to=2026-01-02T03:04:05", "to: timestamp"},
           {"?from=2026-01-02&to=2026-01-01", "earlier"},
           {"?cursor=" + cursor, "cursor: "},
           {"?cursor=%%%", "percent-escape"},
           {"?type=a&type=b", "more than once"},
           {"?prop..x=1", "empty key"},
       }) {
    Page p = Get(c.query);
    EXPECT_EQ(p.status, 400) << c.query << " " << p.body;
    EXPECT_NE(p.error.find(c.error_has), std::string::npos) << c.query << " " << p.body;
  }
  // A tampered cursor from a real page.
  Post(R"({"event_id":"x1","type":"t"}
{"event_id":"x2","type":"t"})");
  Page p;
  for (int i = 0; i < 300 && p.next_cursor.empty(); ++i) {
    p = Get("?limit=1");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(p.next_cursor.empty());
  std::string bad = p.next_cursor;
  bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
  Page t = Get("?limit=1&cursor=" + bad);
  EXPECT_EQ(t.status, 400) << t.body;
  EXPECT_NE(t.error.find("checksum"), std::string::npos) << t.body;
  EXPECT_EQ(Get("?limit=1&cursor=" + p.next_cursor).status, 200);
}

}  // namespace
}  // namespace sluice::test
