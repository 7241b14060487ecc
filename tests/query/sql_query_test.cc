// RunSqlQuery on a real EventStore holding two tenants, hot and archived: a tenant's SQL
// never returns, counts or names the other's rows, whatever it tries; limits hold; output
// formats are exact.
#include "query/sql_query.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/events_view.h"

namespace sluice {
namespace {

constexpr const char* kMine = "acme";
constexpr const char* kOther = "rivalco";
constexpr int kMineHot = 30;
constexpr int kOtherHot = 20;

Event MakeEvent(const std::string& tenant, int i) {
  Event e;
  e.tenant = tenant;
  e.event_id = tenant + "-" + std::to_string(i);
  e.type = i % 2 == 0 ? "page_view" : "buy";
  e.ts_us = 1732528800000000 + int64_t{i} * 1000000;  // 2024-11-25T10:00:00Z + i s
  e.received_at_us = e.ts_us + 5000;
  e.user_id = tenant + "-user-" + std::to_string(i % 3);
  // The other tenant's properties hold a string where ours hold a number: a cast that ran
  // over its rows would fail and print the value.
  e.properties = tenant == kMine ? R"({"n":)" + std::to_string(i) + R"(,"path":"/p"})"
                                 : R"({"n":"rivalco-secret-)" + std::to_string(i) + R"("})";
  e.source = "http";
  return e;
}

class SqlQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-sql-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    archive_ = dir_ + "/archive";
    std::filesystem::create_directories(archive_);
    EventStoreOptions options;
    options.threads = 1;
    options.memory_limit_bytes = 64ull << 20;
    options.archive_root = archive_;
    options.file_roots = {archive_, dir_ + "/archive-staging"};
    auto s = EventStore::Open(dir_ + "/sluice.duckdb", options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    std::vector<Event> batch;
    for (int i = 0; i < kMineHot; ++i) batch.push_back(MakeEvent(kMine, i));
    for (int i = 0; i < kOtherHot; ++i) batch.push_back(MakeEvent(kOther, i));
    ASSERT_TRUE(store_->AppendBatch(batch, "store", 1).ok());
    Archive(kMine, "acme-archived", "2024-01-01 10:00:00");
    Archive(kOther, "rivalco-archived", "2024-01-01 11:00:00");
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // One evicted archive hour of `tenant` holding one event, as the archiver leaves it.
  void Archive(const std::string& tenant, const std::string& id, const std::string& hour) {
    const std::string rel = "tenant=" + tenant +
                            "/year=2024/month=01/day=01/hour=" + hour.substr(11, 2) +
                            "/part-0.parquet";
    std::filesystem::create_directories(std::filesystem::path(archive_ + "/" + rel).parent_path());
    ASSERT_TRUE(store_
                    ->Execute("COPY (SELECT " + SqlQuote(id) +
                              " AS event_id, 'archived' AS type, "
                              "TIMESTAMP " +
                              SqlQuote(hour) + " AS ts, TIMESTAMP " + SqlQuote(hour) +
                              " AS received_at, " + SqlQuote(tenant + "-old-user") +
                              " AS user_id, NULL::VARCHAR AS anonymous_id, '{\"n\":\"" + tenant +
                              "-archived-secret\"}'::JSON AS properties, NULL::JSON AS context, "
                              "'import' AS source) TO " +
                              SqlQuote(archive_ + "/" + rel) + " (FORMAT parquet)")
                    .ok());
    ASSERT_TRUE(store_
                    ->Execute("INSERT INTO archive_hours VALUES (" + SqlQuote(tenant) +
                              ", TIMESTAMP " + SqlQuote(hour) + ", 0, true, NULL);" +
                              "INSERT INTO archive_files VALUES (" + SqlQuote(tenant) +
                              ", TIMESTAMP " + SqlQuote(hour) + ", " + SqlQuote(rel) + ", 1, 100)")
                    .ok());
  }

  Result<SqlResult> Run(const std::string& sql, const std::string& tenant = kMine) {
    return RunSqlQuery(*store_, tenant, sql, limits_);
  }
  std::string Json(const std::string& sql, const std::string& tenant = kMine) {
    auto r = Run(sql, tenant);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? FormatJson(*r) : "";
  }
  // The single value the query returns, as JSON text.
  std::string Value(const std::string& sql, const std::string& tenant = kMine) {
    auto r = Run(sql, tenant);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows.size() != 1 || r->rows[0].size() != 1) return "?";
    std::string out;
    AppendJsonCell(&out, r->rows[0][0]);
    return out;
  }

  std::string dir_, archive_;
  std::unique_ptr<EventStore> store_;
  SqlQueryLimits limits_;
};

TEST_F(SqlQueryTest, EachTenantSeesItsOwnRowsInBothTiers) {
  EXPECT_EQ(Value("SELECT count(*) FROM events"), std::to_string(kMineHot + 1));
  EXPECT_EQ(Value("SELECT count(*) FROM events", kOther), std::to_string(kOtherHot + 1));
  EXPECT_EQ(Value("SELECT string_agg(DISTINCT tenant, ',') FROM events"), "\"acme\"");
  EXPECT_EQ(Value("SELECT event_id FROM events WHERE type = 'archived'"), "\"acme-archived\"");
  EXPECT_EQ(Value("SELECT event_id FROM events WHERE type = 'archived'", kOther),
            "\"rivalco-archived\"");
  EXPECT_EQ(Value("SELECT count(*) FROM events", "nobody"), "0");
}

// Everything a tenant might try: the answer (or the error) never holds the other
// tenant's name, ids or values, and no count includes its rows.
TEST_F(SqlQueryTest, OtherTenantIsUnreachable) {
  const char* tries[] = {
      "SELECT * FROM events",
      "SELECT * FROM events WHERE tenant = 'rivalco'",
      "SELECT * FROM events WHERE tenant <> 'acme' OR tenant IS NULL",
      "SELECT count(*) FROM events WHERE event_id LIKE 'rivalco%'",
      "SELECT approx_count_distinct(tenant), min(tenant), max(tenant) FROM events",
      "SELECT * FROM events_hot",
      "SELECT * FROM main.events_hot",
      "SELECT * FROM archive_files",
      "SELECT * FROM (WITH events_hot AS (SELECT 1) SELECT 1), events_hot",
      "WITH events AS (SELECT * FROM events_hot) SELECT * FROM events",
      "SELECT stats(tenant) FROM events",
      "SELECT * FROM sqlite_master",
      "SELECT * FROM duckdb_tables()",
      "SELECT * FROM query('SELECT * FROM events_hot')",
      "SELECT json_serialize_plan('SELECT * FROM events_hot')",
      "SELECT * FROM read_parquet('/tmp/*/archive/tenant=rivalco/**/*.parquet')",
      "SELECT * FROM 'archive/tenant=rivalco/year=2024/month=01/day=01/hour=11/part-0.parquet'",
      // Casts and errors that would print a value if they ever ran on the other's rows.
      "SELECT count(*) FROM events WHERE (properties->>'n')::INTEGER >= 0",
      "SELECT sum((properties->>'n')::INTEGER) FROM events WHERE type <> 'archived'",
      "SELECT count(*) FROM events WHERE CASE WHEN tenant <> 'acme' THEN error(properties->>'n') "
      "ELSE true END",
      "SELECT count(*) FROM events WHERE user_id::INTEGER = 1",
      "SUMMARIZE events",
      "SELECT * FROM events e JOIN events f ON e.user_id <> f.user_id",
      "SELECT nope FROM events",
  };
  for (const char* sql : tries) {
    SCOPED_TRACE(sql);
    auto r = Run(sql);
    const std::string text = r.ok() ? FormatJson(*r) + FormatCsv(*r) : r.status().message();
    // The user's own text may be echoed back in an error; nothing else of the other
    // tenant may appear.
    for (const char* secret : {"rivalco-secret", "rivalco-user", "rivalco-archived",
                               "rivalco-old-user", "rivalco-1", "rivalco-archived-secret"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
    if (std::string(sql).find("rivalco") == std::string::npos) {
      EXPECT_EQ(text.find("rivalco"), std::string::npos) << text;
    }
  }
  // The counting tries count only our rows.
  EXPECT_EQ(Value("SELECT count(*) FROM events WHERE event_id LIKE 'rivalco%'"), "0");
  EXPECT_EQ(Value("SELECT count(*) FROM events e JOIN events f USING (type)"),
            std::to_string(15 * 15 + 15 * 15 + 1));
}

// Even with the guard out of the way, DuckDB cannot open files outside the archive.
TEST_F(SqlQueryTest, DatabaseRefusesFilesOutsideTheArchive) {
  auto con = duck::Connection::Open(store_->db());
  ASSERT_TRUE(con.ok());
  auto r = con->Query("SELECT * FROM read_csv('/etc/passwd')");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("disabled by configuration"), std::string::npos)
      << r.status().message();
  r = con->Query("SELECT * FROM read_csv('" + archive_ + "/../../../etc/passwd')");
  EXPECT_FALSE(r.ok());
  r = con->Query("COPY (SELECT 1) TO '" + dir_ + "/outside.csv'");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/outside.csv"));
  EXPECT_FALSE(con->Exec("SET enable_external_access = true").ok());
  // The archive itself stays readable: the view above read it.
  r = con->Query("SELECT count(*)::UBIGINT FROM read_parquet('" + archive_ + "/**/*.parquet')");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->FirstUInt64()->value_or(0), 2u);
}

TEST_F(SqlQueryTest, RefusedSqlIsInvalidArgumentOnOneLine) {
  for (const char* sql : {"SELECT * FROM events_hot", "COPY events TO '/tmp/x'",
                          "SELECT nope FROM events", "SELEC 1", "SELECT 1; SELECT 2"}) {
    auto r = Run(sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << sql;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  }
  auto r = Run("SELECT nope FROM events");
  EXPECT_NE(r.status().message().find("Referenced column \"nope\" not found"), std::string::npos)
      << r.status().message();
}

TEST_F(SqlQueryTest, TimeLimitInterruptsTheQuery) {
  limits_.timeout_ms = 300;
  const auto start = std::chrono::steady_clock::now();
  auto r =
      Run("SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range + b.range = 7");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("time limit of 300 ms ([query] timeout_ms)"),
            std::string::npos)
      << r.status().message();
  EXPECT_LT(took, std::chrono::seconds(10));
  // The store is fine afterwards.
  limits_.timeout_ms = 30000;
  EXPECT_EQ(Value("SELECT count(*) FROM events"), std::to_string(kMineHot + 1));
}

TEST_F(SqlQueryTest, RowCapTruncates) {
  limits_.max_rows = 5;
  auto r = Run("SELECT * FROM range(100)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.size(), 5u);
  EXPECT_TRUE(r->truncated);
  r = Run("SELECT * FROM range(5)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.size(), 5u);
  EXPECT_FALSE(r->truncated);
  // At a chunk boundary (2048 rows a chunk) the next chunk decides.
  limits_.max_rows = 2048;
  r = Run("SELECT * FROM range(2048)");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->truncated);
  r = Run("SELECT * FROM range(2049)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.size(), 2048u);
  EXPECT_TRUE(r->truncated);
  EXPECT_NE(FormatJson(*r).find("\"row_count\":2048,\"truncated\":true"), std::string::npos);
}

TEST_F(SqlQueryTest, MemoryLimitIsAClearError) {
  limits_.memory_limit_bytes = 64ull << 20;
  auto r = Run("SELECT list(range) FROM range(100000000)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("64 MiB, [store] memory_limit_bytes"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(Value("SELECT count(*) FROM events"), std::to_string(kMineHot + 1));
}

TEST_F(SqlQueryTest, JsonFormat) {
  std::string json = Json(
      "SELECT event_id, ts, properties, properties->>'path' AS path, user_id IS NULL AS anon, "
      "1.5::DECIMAL(4,2) AS d, 2.5::DOUBLE AS f, NULL AS nothing, [1, 2] AS l "
      "FROM events WHERE event_id = 'acme-1'");
  const size_t elapsed = json.find("\"elapsed_ms\":");
  ASSERT_NE(elapsed, std::string::npos) << json;
  EXPECT_EQ(json.back(), '}');
  EXPECT_EQ(
      json.substr(0, elapsed),
      R"j({"columns":[{"name":"event_id","type":"VARCHAR"},{"name":"ts","type":"TIMESTAMP"},)j"
      R"j({"name":"properties","type":"JSON"},{"name":"path","type":"VARCHAR"},)j"
      R"j({"name":"anon","type":"BOOLEAN"},{"name":"d","type":"DECIMAL(4,2)"},)j"
      R"j({"name":"f","type":"DOUBLE"},{"name":"nothing","type":"INTEGER"},)j"
      R"j({"name":"l","type":"INTEGER[]"}],)j"
      R"j("rows":[["acme-1","2024-11-25T10:00:01Z",{"n":1,"path":"/p"},"/p",false,1.50,2.5,)j"
      R"j(null,[1,2]]],"row_count":1,"truncated":false,)j");
}

TEST_F(SqlQueryTest, CsvFormat) {
  auto r =
      Run("SELECT 'a,b' AS \"x,y\", 'say \"hi\"' AS q, NULL AS n, 'line\nbreak' AS l, 7 AS i, "
          "{'k': 'v'} AS s");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(FormatCsv(*r),
            "\"x,y\",q,n,l,i,s\r\n"
            "\"a,b\",\"say \"\"hi\"\"\",,\"line\nbreak\",7,\"{\"\"k\"\":\"\"v\"\"}\"\r\n");
}

TEST_F(SqlQueryTest, TableFormat) {
  auto r = Run("SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string t = FormatTable(*r);
  EXPECT_EQ(t.substr(0, t.rfind('(')),
            "type      |  n\n"
            "----------+---\n"
            "archived  |  1\n"
            "buy       | 15\n"
            "page_view | 15\n")
      << t;
  EXPECT_NE(t.find("(3 rows, "), std::string::npos) << t;
}

TEST_F(SqlQueryTest, TypesRenderAsJson) {
  EXPECT_EQ(Value("SELECT TIMESTAMP '2024-01-02 03:04:05.5'"), "\"2024-01-02T03:04:05.5Z\"");
  EXPECT_EQ(Value("SELECT TIMESTAMPTZ '2024-01-02 03:04:05+02'"), "\"2024-01-02T01:04:05Z\"");
  EXPECT_EQ(Value("SELECT '1969-12-31 23:59:59.999999'::TIMESTAMP"),
            "\"1969-12-31T23:59:59.999999Z\"");
  EXPECT_EQ(Value("SELECT '2024-01-02 03:04:05.123456789'::TIMESTAMP_NS"),
            "\"2024-01-02T03:04:05.123456789Z\"");
  EXPECT_EQ(Value("SELECT DATE '2024-02-29'"), "\"2024-02-29\"");
  EXPECT_EQ(Value("SELECT TIME '12:30:00'"), "\"12:30:00\"");
  EXPECT_EQ(Value("SELECT INTERVAL '1 year 2 months 3 days 04:05:06.5'"), "\"P1Y2M3DT4H5M6.5S\"");
  EXPECT_EQ(Value("SELECT 170141183460469231731687303715884105727::HUGEINT"),
            "170141183460469231731687303715884105727");
  EXPECT_EQ(Value("SELECT -12.345::DECIMAL(30,3)"), "-12.345");
  EXPECT_EQ(Value("SELECT 0.05::DECIMAL(3,2)"), "0.05");
  EXPECT_EQ(Value("SELECT 18446744073709551615::UBIGINT"), "18446744073709551615");
  EXPECT_EQ(Value("SELECT 'nan'::DOUBLE"), "\"NaN\"");
  EXPECT_EQ(Value("SELECT '6a1f3c4e-0000-4000-8000-00000000002a'::UUID"),
            "\"6a1f3c4e-0000-4000-8000-00000000002a\"");
  EXPECT_EQ(Value("SELECT {'a': [1, NULL], 'b': 'x\"y'}"), R"({"a":[1,null],"b":"x\"y"})");
  EXPECT_EQ(Value("SELECT MAP {'k': 1.5}"), R"({"k":1.5})");
  EXPECT_EQ(Value("SELECT [1, 2]::INTEGER[2]"), "[1,2]");
  EXPECT_EQ(Value("SELECT json_extract(properties, '$.n') FROM events WHERE event_id = 'acme-2'"),
            "2");
  EXPECT_EQ(Value("SELECT 'a\tb\n'::BLOB"), "\"a\\\\x09b\\\\x0A\"");
  auto r = Run("SELECT union_value(k := 1)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cast it"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace sluice
