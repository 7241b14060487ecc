// POST /v1/query and `sluice query` end to end against the real binary: fresh events are
// queryable within a second, errors are 400 JSON (504 for the time limit), and the CLI
// prints each format both through a server (--url) and on the data dir.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness.h"

namespace sluice::test {
namespace {

const char* kConfig = R"j([dedupe]
capacity_slots = 65536
[store]
batch_ms = 20
threads = 1
[query]
timeout_ms = 500
max_rows = 3
)j";

class QueryHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("query");
    server_ = std::make_unique<ServerProcess>(dir_ + "/data", kConfig);
    ASSERT_TRUE(server_->Start()) << server_->log_text();
  }
  void TearDown() override {
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    RemoveTree(dir_);
  }
  HttpResult Query(const std::string& body) {
    return HttpPost(server_->url() + "/v1/query", body, {"Content-Type: application/json"});
  }
  void PostEvents() {
    auto r = HttpPost(server_->url() + "/v1/events",
                      R"j([{"event_id":"e1","type":"signup","timestamp":"2026-01-02T03:04:05Z",)j"
                      R"j("user_id":"u1","properties":{"plan":"pro","seats":3}},)j"
                      R"j({"event_id":"e2","type":"login","timestamp":"2026-01-02T04:00:00Z",)j"
                      R"j("user_id":"u1"},)j"
                      R"j({"event_id":"e3","type":"login","timestamp":"2026-01-03T04:00:00Z",)j"
                      R"j("anonymous_id":"a9"}])j");
    ASSERT_EQ(r.status, 202) << r.body;
  }
  std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(QueryHttpTest, AcceptedEventsAreQueryableWithinOneSecond) {
  PostEvents();
  const auto acked = std::chrono::steady_clock::now();
  HttpResult r;
  while (true) {
    r = Query(R"j({"sql":"SELECT count(*) AS n FROM events"})j");
    ASSERT_EQ(r.status, 200) << r.body;
    if (r.body.find(R"j("rows":[[3]])j") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now() - acked, std::chrono::seconds(1)) << r.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(r.body.find(R"j("columns":[{"name":"n","type":"BIGINT"}])j"), std::string::npos)
      << r.body;

  r = Query(
      R"j({"sql":"SELECT event_id, type, ts, user_id, properties, properties->>'plan' AS plan )j"
      R"j(FROM events ORDER BY ts"})j");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.headers.find("application/json"), std::string::npos) << r.headers;
  EXPECT_NE(r.body.find(R"j("rows":[["e1","signup","2026-01-02T03:04:05Z","u1",)j"
                        R"j({"plan":"pro","seats":3},"pro"],["e2","login","2026-01-02T04:00:00Z",)j"
                        R"j("u1",{},null],["e3","login","2026-01-03T04:00:00Z",null,{},null]],)j"
                        R"j("row_count":3,"truncated":false,"elapsed_ms":)j"),
            std::string::npos)
      << r.body;

  r = Query(R"j({"sql":"SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type",)j"
            R"j("format":"csv"})j");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "type,n\r\nlogin,2\r\nsignup,1\r\n");
  EXPECT_NE(r.headers.find("text/csv"), std::string::npos) << r.headers;

  // [query] max_rows = 3
  r = Query(R"j({"sql":"SELECT * FROM range(10)"})j");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"j("row_count":3,"truncated":true)j"), std::string::npos) << r.body;
}

TEST_F(QueryHttpTest, RefusedAndInvalidSqlIs400Json) {
  struct Case {
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {R"j({"sql":"SELECT * FROM events_hot"})j",
       R"j({"error":"only the \"events\" view can be queried; \"events_hot\" is not allowed"})j"},
      {R"j({"sql":"SELECT * FROM read_csv('/etc/passwd')"})j", "table function read_csv is not"},
      {R"j({"sql":"SELECT * FROM '/etc/passwd'"})j", "reading files is not allowed"},
      {R"j({"sql":"ATTACH 'x.db'"})j", "only SELECT queries are allowed; ATTACH is not"},
      {R"j({"sql":"COPY events TO '/tmp/x.csv'"})j", "COPY is not"},
      {R"j({"sql":"INSTALL httpfs"})j", "INSTALL is not"},
      {R"j({"sql":"SET threads = 8"})j", "SET is not"},
      {R"j({"sql":"PRAGMA version"})j", "PRAGMA is not"},
      {R"j({"sql":"DELETE FROM events"})j", "DELETE is not"},
      {R"j({"sql":"SELECT 1; SELECT 2"})j", "only one SELECT statement is allowed"},
      {R"j({"sql":"SELECT nope FROM events"})j", "Referenced column \\\"nope\\\" not found"},
      {R"j({"sql":"SELEC 1"})j", "syntax error"},
      {R"j({"sql":""})j", "the query is empty"},
      {R"j({"query":"SELECT 1"})j", R"j({"error":"\"sql\" (a string) is required"})j"},
      {R"j(not json)j", "the body must be a JSON object"},
      {R"j({"sql":"SELECT 1","format":"xml"})j", "unknown format \\\"xml\\\""},
  };
  for (const Case& c : cases) {
    auto r = Query(c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.error), std::string::npos) << c.body << " -> " << r.body;
    EXPECT_EQ(r.body.rfind(R"j({"error":")j", 0), 0u) << r.body;
  }
  auto r = HttpGet(server_->url() + "/v1/query");
  EXPECT_EQ(r.status, 405) << r.body;
}

TEST_F(QueryHttpTest, TimeLimitIs504) {
  auto r = Query(R"j({"sql":"SELECT count(*) FROM range(1000000) a, range(1000000) b )j"
                 R"j(WHERE a.range + b.range = 7"})j");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.body,
            R"j({"error":"the query exceeded the time limit of 500 ms ([query] timeout_ms)"})j");
  // The server keeps answering.
  r = Query(R"j({"sql":"SELECT 42 AS answer"})j");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(QueryHttpTest, CliFormatsThroughServerAndOffline) {
  PostEvents();
  const std::string sql = "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type";
  // Wait until the store has the events (the server answers the CLI only from the store).
  for (int i = 0; i < 100; ++i) {
    auto r = Query(R"j({"sql":"SELECT count(*) FROM events"})j");
    if (r.body.find(R"j("rows":[[3]])j") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (bool offline : {false, true}) {
    SCOPED_TRACE(offline ? "offline" : "--url");
    if (offline) {
      ASSERT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    std::vector<std::string> where =
        offline ? std::vector<std::string>{"--data-dir", server_->data_dir(), "--config",
                                           server_->config_path()}
                : std::vector<std::string>{"--url", server_->url()};
    auto run = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "query");
      args.insert(args.end(), where.begin(), where.end());
      return RunSluice(args);
    };
    auto r = run({sql, "--format", "csv"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "type,n\r\nlogin,2\r\nsignup,1\r\n");
    r = run({sql, "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind(R"j({"columns":[{"name":"type","type":"VARCHAR"},{"name":"n",)j"
                          R"j("type":"BIGINT"}],"rows":[["login",2],["signup",1]],"row_count":2,)j",
                          0),
              0u)
        << r.out;
    r = run({sql});  // table is the default
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.rfind('(')),
              "type   | n\n"
              "-------+--\n"
              "login  | 2\n"
              "signup | 1\n")
        << r.out;
    EXPECT_NE(r.out.find("(2 rows, "), std::string::npos) << r.out;
    r = run({"SELECT * FROM events_hot"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err,
              "sluice query: only the \"events\" view can be queried; \"events_hot\" is not "
              "allowed\n");
    r = run({"SELECT * FROM read_csv('/etc/passwd')"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("table function read_csv is not allowed"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace sluice::test
