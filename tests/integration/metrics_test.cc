// Metrics end to end against the real server: an accepted event is in its metric within
// 1 s (SPEC §1.7); series equal the exact SQL over the stored events (POST /v1/query) for
// a stream with late events and duplicates, also after the server died (kill -9, and an
// _exit inside a rollup transaction) and restarted; metrics defined through
// /v1/admin/metrics are backfilled; closed-window queries come from the cache until a
// late event changes them; clear 400s; `sluice metrics` offline and with --url.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/time.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace sluice::test {
namespace {

const char* kConfig = R"([dedupe]
capacity_slots = 65536
[rollup]
max_points = 500

[[metrics]]
name = "revenue"
aggregate = "sum"
property = "amount"
event_types = ["purchase"]
dimensions = ["plan"]
)";

// DELETE `url`; the status code (0 when unreachable).
long HttpRequestDelete(const std::string& url) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return code;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// (group value or "", bucket time) -> value, from a /v1/metrics JSON body.
using Series = std::map<std::pair<std::string, std::string>, double>;

Series ParseSeries(const std::string& body, const std::string& group_by = "") {
  Series out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) {
    ADD_FAILURE() << "not JSON: " << body;
    return out;
  }
  simdjson::dom::array series;
  if (doc["series"].get(series)) {
    ADD_FAILURE() << "no series: " << body;
    return out;
  }
  for (auto s : series) {
    std::string group;
    if (!group_by.empty()) group = std::string(std::string_view(s["group"][group_by]));
    for (auto p : s["points"].get_array()) {
      double v = 0;
      if (p["value"].is_null()) continue;
      int64_t i = 0;
      if (p["value"].get(v) && !p["value"].get(i)) v = static_cast<double>(i);
      if (v != 0) out[{group, std::string(std::string_view(p["t"]))}] = v;
    }
  }
  return out;
}

class MetricsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("metrics");
    server_ = std::make_unique<ServerProcess>(dir_ + "/data", kConfig);
    ASSERT_TRUE(server_->Start()) << server_->log_text();
  }
  void TearDown() override {
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    RemoveTree(dir_);
  }

  long Post(const std::string& ndjson) {
    auto r =
        HttpPost(server_->url() + "/v1/events", ndjson, {"Content-Type: application/x-ndjson"});
    return r.status;
  }
  HttpResult Get(const std::string& path) { return HttpGet(server_->url() + path); }

  // Random events over the last 6 days (20% late by up to 5 days), some repeated ids.
  std::string RandomBatch(int n) {
    static const char* types[] = {"view", "click", "purchase", "signup"};
    static const char* plans[] = {"free", "pro", "team"};
    std::string out;
    for (int i = 0; i < n; ++i) {
      const bool dup = next_ > 0 && rng_() % 10 == 0;
      const int id = dup ? static_cast<int>(rng_() % next_) : next_++;
      std::mt19937_64 ev(id);  // a repeated id repeats its content (or not: first wins)
      int64_t age = static_cast<int64_t>(ev() % 7200);
      if (ev() % 5 == 0) age = static_cast<int64_t>(ev() % (5 * 86400));
      out += "{\"id\":\"m" + std::to_string(id) + "\",\"type\":\"" + types[ev() % 4] +
             "\",\"timestamp\":" + std::to_string(NowSeconds() - age) + ",\"user_id\":\"u" +
             std::to_string(ev() % 400) + "\",\"properties\":{\"plan\":\"" + plans[ev() % 3] +
             "\",\"amount\":" + std::to_string(ev() % 10000) + "." + std::to_string(ev() % 100) +
             "}}\n";
    }
    return out;
  }

  // SQL through POST /v1query, as (group, bucket) -> value.
  Series Sql(const std::string& sql) {
    auto r = HttpPost(server_->url() + "/v1/query", "{\"sql\":\"" + sql + "\",\"format\":\"csv\"}",
                      {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.body;
    Series out;
    size_t pos = r.body.find('\n') + 1;  // header
    while (pos < r.body.size()) {
      size_t end = r.body.find('\n', pos);
      std::string line = r.body.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos = end == std::string::npos ? r.body.size() : end + 1;
      if (line.empty()) continue;
      size_t a = line.find(','), b = line.find(',', a + 1);
      out[{line.substr(0, a), line.substr(a + 1, b - a - 1)}] = std::stod(line.substr(b + 1));
    }
    return out;
  }

  // Waits until the rollups have taken everything acknowledged (lag 0 in /metrics).
  void WaitRollupsCaughtUp() {
    for (int i = 0; i < 500; ++i) {
      auto m = Get("/metrics");
      if (m.body.find("sluice_rollup_lag_bytes 0\n") != std::string::npos &&
          m.body.find("sluice_store_lag_bytes 0\n") != std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "rollups did not catch up";
  }

  // Daily series of events by type, unique users and revenue by plan, each equal to SQL.
  void ExpectSeriesEqualSql() {
    WaitRollupsCaughtUp();
    const std::string range = "&from=" + std::to_string(NowSeconds() - 7 * 86400) +
                              "&to=" + std::to_string(NowSeconds() + 86400);
    auto events = Get("/v1/metrics/events?granularity=1d&group_by=type" + range);
    ASSERT_EQ(events.status, 200) << events.body;
    const std::string day = "strftime(date_trunc('day', ts), '%Y-%m-%dT%H:%M:%SZ')";
    EXPECT_EQ(ParseSeries(events.body, "type"),
              Sql("SELECT type, " + day + ", count(*) FROM events GROUP BY ALL"));
    auto users = Get("/v1/metrics/unique_users?granularity=1d" + range);
    ASSERT_EQ(users.status, 200) << users.body;
    // HyperLogLog: exact up to 256 users per window, within 2% beyond (a day here has ~400).
    Series got_users = ParseSeries(users.body);
    Series want_users =
        Sql("SELECT '', " + day + ", count(DISTINCT user_id) FROM events GROUP BY ALL");
    ASSERT_EQ(got_users.size(), want_users.size()) << users.body;
    for (const auto& [k, v] : want_users) {
      EXPECT_LE(std::abs(got_users[k] - v), v <= 256 ? 0 : 0.02 * v) << k.second;
    }
    auto revenue = Get("/v1/metrics/revenue?granularity=1h&group_by=plan" + range);
    ASSERT_EQ(revenue.status, 200) << revenue.body;
    Series got = ParseSeries(revenue.body, "plan");
    Series want = Sql(
        "SELECT properties->>'plan', strftime(date_trunc('hour', ts), '%Y-%m-%dT%H:%M:%SZ'), "
        "sum((properties->>'amount')::DOUBLE) FROM events WHERE type = 'purchase' GROUP BY ALL");
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [k, v] : want) {
      EXPECT_NEAR(got[k], v, 1e-9 * std::abs(v)) << k.first << " " << k.second;
    }
  }

  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
  std::mt19937_64 rng_{7};
  int next_ = 0;
};

TEST_F(MetricsHttpTest, AcceptedEventIsInItsMetricWithinOneSecond) {
  const std::string since = std::to_string(NowSeconds() - 120);
  for (int round = 1; round <= 5; ++round) {
    ASSERT_EQ(Post("{\"id\":\"fresh-" + std::to_string(round) + "\",\"type\":\"fresh\"}\n"), 202);
    const auto accepted = std::chrono::steady_clock::now();
    double seen = 0;
    while (std::chrono::steady_clock::now() - accepted < std::chrono::seconds(1)) {
      auto r = Get("/v1/metrics/events?granularity=1m&filter=type:fresh&from=" + since);
      ASSERT_EQ(r.status, 200) << r.body;
      seen = 0;
      for (const auto& [k, v] : ParseSeries(r.body)) seen += v;
      if (seen == round) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(seen, round) << "event " << round << " not in its metric 1 s after its 202";
  }
}

TEST_F(MetricsHttpTest, SeriesEqualExactSqlWithLateEventsAndDuplicates) {
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Post(RandomBatch(200)), 202);
  ExpectSeriesEqualSql();
}

TEST_F(MetricsHttpTest, KilledDuringRollupConsumptionThenRestartedStillEqualsSql) {
  // kill -9 at whatever moment the load is in.
  for (int round = 0; round < 3; ++round) {
    std::thread load([&] {
      for (int i = 0; i < 10; ++i) Post(RandomBatch(300));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * round));
    server_->Kill();
    load.join();
    ASSERT_TRUE(server_->Start()) << server_->log_text();
  }
  // And exactly inside a rollup transaction: rows written, COMMIT not reached.
  ASSERT_EQ(server_->Stop(), 0);
  setenv("SLUICE_TEST_ROLLUP_EXIT_BEFORE_COMMIT", "3", 1);
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  unsetenv("SLUICE_TEST_ROLLUP_EXIT_BEFORE_COMMIT");
  for (int i = 0; i < 20 && Get("/healthz").status == 200; ++i) {
    Post(RandomBatch(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  EXPECT_NE(Get("/healthz").status, 200) << "the crash hook did not fire";
  server_->Kill();  // reaps it
  EXPECT_NE(server_->log_text().find("exiting before commit"), std::string::npos);
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  ExpectSeriesEqualSql();
}

TEST_F(MetricsHttpTest, MetricDefinedLaterIsBackfilledThenLive) {
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Post(RandomBatch(200)), 202);
  WaitRollupsCaughtUp();
  auto r = HttpPost(server_->url() + "/v1/admin/metrics",
                    R"({"name":"max_amount","aggregate":"max","property":"amount",)"
                    R"("dimensions":["type"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(HttpPost(server_->url() + "/v1/admin/metrics", R"({"name":"max_amount",)"
                                                           R"("aggregate":"count"})")
                .status,
            400);
  EXPECT_EQ(
      HttpPost(server_->url() + "/v1/admin/metrics", R"({"name":"x","aggregate":"sum"})").status,
      400);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post(RandomBatch(200)), 202);
  for (int i = 0; i < 500; ++i) {
    auto d = Get("/v1/admin/metrics/max_amount");
    ASSERT_EQ(d.status, 200) << d.body;
    if (d.body.find("\"done\":true") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  WaitRollupsCaughtUp();
  auto got =
      Get("/v1/metrics/max_amount?granularity=1d&group_by=type&from=" +
          std::to_string(NowSeconds() - 7 * 86400) + "&to=" + std::to_string(NowSeconds() + 86400));
  ASSERT_EQ(got.status, 200) << got.body;
  Series want =
      Sql("SELECT type, strftime(date_trunc('day', ts), '%Y-%m-%dT%H:%M:%SZ'), "
          "max((properties->>'amount')::DOUBLE) FROM events GROUP BY ALL");
  EXPECT_EQ(ParseSeries(got.body, "type"), want);
  EXPECT_EQ(HttpRequestDelete(server_->url() + "/v1/admin/metrics/max_amount"), 200);
  EXPECT_EQ(Get("/v1/metrics/max_amount").status, 400);
}

TEST_F(MetricsHttpTest, ClosedWindowsComeFromTheCacheUntilALateEventChangesThem) {
  const int64_t day_start = NowSeconds() / 86400 * 86400 - 3 * 86400;
  const std::string q = "/v1/metrics/events?granularity=1h&from=" + std::to_string(day_start) +
                        "&to=" + std::to_string(day_start + 86400);
  ASSERT_EQ(Post("{\"id\":\"late-1\",\"type\":\"t\",\"timestamp\":" +
                 std::to_string(day_start + 3600) + "}\n"),
            202);
  WaitRollupsCaughtUp();
  auto first = Get(q);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.headers.find("X-Sluice-Cache: miss"), std::string::npos) << first.headers;
  auto second = Get(q);
  EXPECT_NE(second.headers.find("X-Sluice-Cache: hit"), std::string::npos) << second.headers;
  EXPECT_EQ(first.body, second.body);
  // A late event into that closed day must be visible at once, not hidden by the cache.
  ASSERT_EQ(Post("{\"id\":\"late-2\",\"type\":\"t\",\"timestamp\":" +
                 std::to_string(day_start + 7200) + "}\n"),
            202);
  WaitRollupsCaughtUp();
  auto third = Get(q);
  EXPECT_NE(third.headers.find("X-Sluice-Cache: miss"), std::string::npos) << third.headers;
  double total = 0;
  for (const auto& [k, v] : ParseSeries(third.body)) total += v;
  EXPECT_EQ(total, 2);
  // A range reaching into the open minute is never cached.
  const std::string open =
      "/v1/metrics/events?granularity=1m&from=" + std::to_string(NowSeconds() - 600);
  Get(open);
  EXPECT_NE(Get(open).headers.find("X-Sluice-Cache: miss"), std::string::npos);
}

TEST_F(MetricsHttpTest, BadRequestsAreClear400s) {
  struct Case {
    std::string path, message;
  } cases[] = {
      {"/v1/metrics/nope", "unknown metric 'nope'"},
      {"/v1/metrics/events?from=2026-01-02&to=2026-01-01", "from must be before to"},
      {"/v1/metrics/events?from=yesterday", "from:"},
      {"/v1/metrics/events?granularity=1m&from=2026-01-01&to=2026-01-02",
       "exceed the limit of 500"},
      {"/v1/metrics/events?granularity=2h", "granularity must be"},
      {"/v1/metrics/events?group_by=plan", "cannot be grouped by 'plan'"},
      {"/v1/metrics/events?filter=type", "dimension:value"},
      {"/v1/metrics/events?tz=Europe/Paris", "tz must be"},
      {"/v1/metrics/events?tenant=other", "unknown parameter 'tenant'"},
  };
  for (const auto& c : cases) {
    auto r = Get(c.path);
    EXPECT_EQ(r.status, 400) << c.path << " " << r.body;
    EXPECT_NE(r.body.find(c.message), std::string::npos) << c.path << " " << r.body;
  }
  EXPECT_EQ(HttpPost(server_->url() + "/v1/metrics/events", "").status, 405);
}

TEST_F(MetricsHttpTest, CliAnswersOfflineAndThroughTheServer) {
  ASSERT_EQ(Post("{\"id\":\"c1\",\"type\":\"a\",\"timestamp\":\"2026-03-01T10:00:00Z\"}\n"
                 "{\"id\":\"c2\",\"type\":\"b\",\"timestamp\":\"2026-03-01T11:30:00Z\"}\n"
                 "{\"id\":\"c3\",\"type\":\"a\",\"timestamp\":\"2026-03-02T01:00:00Z\"}\n"),
            202);
  WaitRollupsCaughtUp();
  std::vector<std::string> args = {"metrics",    "events",        "--from",   "2026-03-01", "--to",
                                   "2026-03-03", "--granularity", "1d",       "--group-by", "type",
                                   "--tz",       "+02:00",        "--format", "csv"};
  auto online = args;
  online.insert(online.end(), {"--url", server_->url()});
  auto r = RunSluice(online);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Days start at 22:00 UTC in +02:00: 10:00 and 11:30 on Mar 1 fall in the day starting
  // Feb 28 22:00 UTC, 01:00 on Mar 2 in the one starting Mar 1 22:00.
  EXPECT_NE(r.out.find("2026-02-28T22:00:00Z,a,1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-02-28T22:00:00Z,b,1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-03-01T22:00:00Z,a,1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2026-03-01T22:00:00Z,b,0"), std::string::npos) << r.out;
  ASSERT_EQ(server_->Stop(), 0);
  auto offline = args;
  offline.insert(offline.end(),
                 {"--data-dir", server_->data_dir(), "--config", server_->config_path()});
  auto o = RunSluice(offline);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, r.out);
  auto bad = RunSluice({"metrics", "nope", "--data-dir", server_->data_dir()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown metric 'nope'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace sluice::test
