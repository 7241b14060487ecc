// SqlGuard: every way out of the `events` view we know of is refused with a message that
// says what, and ordinary analytics SQL passes.
#include "query/sql_guard.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/event_store.h"

namespace sluice {
namespace {

class SqlGuardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/sluice-guard-test-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    auto s = EventStore::Open(*dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = s->release();
  }
  static void TearDownTestSuite() {
    delete store_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  Status Check(const std::string& sql) {
    auto con = duck::Connection::Open(store_->db());
    EXPECT_TRUE(con.ok());
    return CheckQuerySql(*con, sql);
  }

  static std::string* dir_;
  static EventStore* store_;
};
std::string* SqlGuardTest::dir_ = nullptr;
EventStore* SqlGuardTest::store_ = nullptr;

struct Refusal {
  const char* sql;
  const char* message;  // a part of the error
};

void ExpectRefused(SqlGuardTest* t, Status s, const Refusal& r) {
  EXPECT_FALSE(s.ok()) << r.sql << " was allowed";
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << r.sql << ": " << s.ToString();
  EXPECT_NE(s.message().find(r.message), std::string::npos)
      << r.sql << "\n  got: " << s.message() << "\n  want a part: " << r.message;
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << "not one line: " << s.message();
}

#define EXPECT_REFUSED(list)              \
  for (const Refusal& r : list) {         \
    SCOPED_TRACE(r.sql);                  \
    ExpectRefused(this, Check(r.sql), r); \
  }

TEST_F(SqlGuardTest, RefusesOtherTables) {
  const Refusal cases[] = {
      {"SELECT * FROM events_hot", R"(only the "events" view can be queried; "events_hot")"},
      {"select * from EVENTS_HOT", R"("EVENTS_HOT" is not allowed)"},
      {"SELECT * FROM \"events_hot\"", R"("events_hot" is not allowed)"},
      {"SELECT * FROM main.events_hot", R"("main.events_hot" is not allowed)"},
      {"SELECT * FROM sluice.main.events_hot", R"("sluice.main.events_hot" is not allowed)"},
      {"SELECT * FROM temp.events", R"("temp.events" is not allowed)"},
      {"SELECT * FROM consumer_offsets", R"("consumer_offsets" is not allowed)"},
      {"SELECT * FROM archive_files", R"("archive_files" is not allowed)"},
      {"SELECT * FROM archive_hours", R"("archive_hours" is not allowed)"},
      // Rollups live in an attached database of the same instance (rollup_table.h).
      {"SELECT * FROM rollups.rollup_1m", R"("rollups.rollup_1m" is not allowed)"},
      {"SELECT * FROM rollups.main.rollup_metrics",
       R"("rollups.main.rollup_metrics" is not allowed)"},
      {"SELECT * FROM rollup_1m", R"("rollup_1m" is not allowed)"},
      {"SELECT * FROM events UNION ALL SELECT * FROM events_hot", R"("events_hot")"},
      {"SELECT (SELECT count(*) FROM events_hot)", R"("events_hot")"},
      {"SELECT * FROM events WHERE tenant IN (SELECT tenant FROM events_hot)", R"("events_hot")"},
      {"SELECT * FROM events e JOIN events_hot h USING (event_id)", R"("events_hot")"},
      {"SELECT * FROM events, LATERAL (SELECT * FROM events_hot) x", R"("events_hot")"},
      {"WITH e AS (SELECT * FROM events_hot) SELECT * FROM e", R"("events_hot")"},
      {"SELECT * FROM events AT (VERSION => 1)", "AT (time travel) clauses are not allowed"},
      {"SUMMARIZE events_hot", R"("events_hot")"},
      {"DESCRIBE SELECT * FROM events_hot", R"("events_hot")"},
  };
  EXPECT_REFUSED(cases);
}

TEST_F(SqlGuardTest, RefusesCatalogAndSystemViews) {
  const Refusal cases[] = {
      {"SELECT * FROM information_schema.tables", R"("information_schema.tables" is not allowed)"},
      {"SELECT * FROM information_schema.columns", "is not allowed"},
      {"SELECT * FROM pg_catalog.pg_class", R"("pg_catalog.pg_class" is not allowed)"},
      {"SELECT * FROM pg_tables", R"("pg_tables" is not allowed)"},
      {"SELECT * FROM sqlite_master", R"("sqlite_master" is not allowed)"},
      {"SELECT * FROM duckdb_tables", R"("duckdb_tables" is not allowed)"},
      {"SELECT * FROM duckdb_tables()", "table function duckdb_tables is not allowed"},
      {"SELECT * FROM duckdb_views()", "table function duckdb_views is not allowed"},
      {"SELECT * FROM duckdb_settings()", "table function duckdb_settings is not allowed"},
      {"SELECT * FROM duckdb_databases()", "table function duckdb_databases is not allowed"},
      {"SELECT * FROM duckdb_secrets()", "table function duckdb_secrets is not allowed"},
      {"SELECT * FROM pragma_table_info('events_hot')",
       "table function pragma_table_info is not allowed"},
      {"SHOW TABLES", "SHOW and DESCRIBE of catalog objects are not allowed"},
      {"SHOW ALL TABLES", "SHOW and DESCRIBE of catalog objects are not allowed"},
      {"DESCRIBE events_hot", "not allowed"},
  };
  EXPECT_REFUSED(cases);
}

TEST_F(SqlGuardTest, RefusesFiles) {
  const Refusal cases[] = {
      {"SELECT * FROM read_csv('/etc/passwd')", "table function read_csv is not allowed"},
      {"SELECT * FROM read_csv_auto('/etc/passwd')", "table function read_csv_auto is not allowed"},
      {"SELECT * FROM read_text('/etc/passwd')", "table function read_text is not allowed"},
      {"SELECT * FROM read_blob('/etc/passwd')", "table function read_blob is not allowed"},
      {"SELECT * FROM read_json('/etc/passwd')", "table function read_json is not allowed"},
      {"SELECT * FROM read_parquet('x.parquet')", "table function read_parquet is not allowed"},
      {"SELECT * FROM read_parquet('data/archive/tenant=other/**/*.parquet')",
       "table function read_parquet is not allowed"},
      {"SELECT * FROM parquet_scan('x.parquet')", "table function parquet_scan is not allowed"},
      {"SELECT * FROM parquet_metadata('x.parquet')", "table function parquet_metadata"},
      {"SELECT * FROM glob('/*')", "table function glob is not allowed"},
      {"SELECT * FROM '/etc/passwd'", R"(reading files is not allowed; "/etc/passwd")"},
      {"SELECT * FROM 'x.parquet'", R"(reading files is not allowed; "x.parquet")"},
      {"SELECT * FROM \"data.csv\"", "reading files is not allowed"},
      {"SELECT * FROM 's3://bucket/x.parquet'", "reading files is not allowed"},
      {"SELECT * FROM events e, read_csv('/etc/passwd') p", "table function read_csv"},
      {"SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))", "table function read_csv"},
  };
  EXPECT_REFUSED(cases);
}

TEST_F(SqlGuardTest, RefusesStatementsOtherThanOneSelect) {
  const Refusal cases[] = {
      {"ATTACH 'other.db' AS o", "only SELECT queries are allowed; ATTACH is not"},
      {"DETACH o", "DETACH is not"},
      {"USE o", "USE is not"},
      {"COPY events TO '/tmp/x.csv'", "only SELECT queries are allowed; COPY is not"},
      {"COPY (SELECT * FROM events) TO '/tmp/x.parquet' (FORMAT parquet)", "COPY is not"},
      {"COPY events_hot FROM '/tmp/x.csv'", "COPY is not"},
      {"EXPORT DATABASE '/tmp/x'", "EXPORT is not"},
      {"INSTALL httpfs", "INSTALL is not"},
      {"LOAD httpfs", "LOAD is not"},
      {"PRAGMA version", "PRAGMA is not"},
      {"PRAGMA table_info('events_hot')", "PRAGMA is not"},
      {"SET memory_limit = '100GB'", "SET is not"},
      {"SET enable_external_access = true", "SET is not"},
      {"RESET threads", "RESET is not"},
      {"SET VARIABLE x = 1", "SET is not"},
      {"INSERT INTO events_hot SELECT * FROM events_hot", "INSERT is not"},
      {"UPDATE events_hot SET tenant = 'x'", "UPDATE is not"},
      {"DELETE FROM events_hot", "DELETE is not"},
      {"DROP TABLE events_hot", "DROP is not"},
      {"CREATE TABLE x AS SELECT 1", "CREATE is not"},
      {"CREATE MACRO m() AS TABLE SELECT * FROM events_hot", "CREATE is not"},
      {"ALTER TABLE events_hot RENAME TO y", "ALTER is not"},
      {"CHECKPOINT", "CHECKPOINT is not"},
      {"CALL duckdb_tables()", "not"},
      {"EXPLAIN SELECT 1", "EXPLAIN is not"},
      {"EXPLAIN ANALYZE SELECT * FROM events", "EXPLAIN is not"},
      {"PIVOT events ON type", "PIVOT is not"},
      {"BEGIN", "BEGIN is not"},
      {"SELECT 1 INTO x", "SELECT INTO"},
      {"SELECT 1; SELECT 2", "only one SELECT statement is allowed; the query holds 2"},
      {"SELECT 1; DROP TABLE events_hot", "only one SELECT statement is allowed"},
      {"SELECT * FROM events; SET threads = 1", "only one SELECT statement is allowed"},
      {"", "the query is empty"},
      {"  ;  ", "the query is empty"},
      {"SELEC 1", "syntax error"},
  };
  EXPECT_REFUSED(cases);
}

TEST_F(SqlGuardTest, RefusesFunctionsThatLookOutside) {
  const Refusal cases[] = {
      {"SELECT * FROM query('SELECT * FROM events_hot')", "table function query is not allowed"},
      {"SELECT * FROM query_table('events_hot')", "table function query_table is not allowed"},
      {"SELECT * FROM json_execute_serialized_sql('{}')", "json_execute_serialized_sql"},
      {"SELECT current_setting('memory_limit')", "function current_setting is not allowed"},
      {"SELECT pg_catalog.current_setting('memory_limit')", "function current_setting"},
      {"SELECT getvariable('x')", "function getvariable is not allowed"},
      {"SELECT nextval('s')", "function nextval is not allowed"},
      {"SELECT currval('s')", "function currval is not allowed"},
      {"SELECT stats(tenant) FROM events", "function stats is not allowed"},
      {"SELECT json_serialize_plan('SELECT * FROM events_hot')", "json_serialize_plan"},
      {"SELECT current_database()", "function current_database is not allowed"},
      {"SELECT current_schemas(true)", "function current_schemas is not allowed"},
      {"SELECT current_query()", "function current_query is not allowed"},
      {"SELECT pg_get_viewdef(1)", "function pg_get_viewdef is not allowed"},
      {"SELECT has_table_privilege('events_hot', 'select')", "has_table_privilege"},
      {"SELECT write_log('x')", "function write_log is not allowed"},
      {"SELECT * FROM events WHERE user_id = current_setting('x')", "current_setting"},
      {"SELECT list_transform([1], x -> current_setting('threads'))", "current_setting"},
  };
  EXPECT_REFUSED(cases);
}

// A CTE is visible only in its own scope, and a non-recursive one not even in its own
// body; without the name check, these would reach the real table under the CTE's name.
TEST_F(SqlGuardTest, RefusesCteShadowing) {
  const Refusal cases[] = {
      {"SELECT * FROM (WITH events_hot AS (SELECT 1) SELECT 1), events_hot",
       R"(CTE name "events_hot" is not allowed)"},
      {"WITH events_hot AS (SELECT * FROM events_hot) SELECT * FROM events_hot",
       R"(CTE name "events_hot" is not allowed)"},
      {"SELECT (WITH consumer_offsets AS (SELECT 1) SELECT 1), * FROM consumer_offsets",
       R"(CTE name "consumer_offsets" is not allowed)"},
      {"WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master",
       R"(CTE name "sqlite_master" is not allowed)"},
      {"WITH pg_tables AS (SELECT 1) SELECT * FROM pg_tables", R"(CTE name "pg_tables")"},
      {"SELECT * FROM (WITH \"/etc/passwd\" AS (SELECT 1) SELECT 1), '/etc/passwd'",
       R"(CTE name "/etc/passwd" is not allowed: use a plain identifier)"},
      {"WITH \"x.csv\" AS (SELECT 1) SELECT * FROM \"x.csv\"", "use a plain identifier"},
  };
  EXPECT_REFUSED(cases);
}

TEST_F(SqlGuardTest, AllowsAnalytics) {
  const char* cases[] = {
      "SELECT count(*) FROM events",
      "select COUNT(*) from EVENTS",
      "SELECT 1;",
      "FROM events SELECT type",
      "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC LIMIT 10",
      "SELECT type, count(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL) FROM events "
      "GROUP BY ALL HAVING count(*) > 1",
      "SELECT user_id, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts) FROM events",
      "SELECT ts, lag(ts) OVER w, sum(1) OVER w FROM events WINDOW w AS (ORDER BY ts) "
      "QUALIFY row_number() OVER w < 5",
      "WITH daily AS (SELECT date_trunc('day', ts) AS d, count(*) AS n FROM events GROUP BY 1) "
      "SELECT d, n, avg(n) OVER (ORDER BY d ROWS 6 PRECEDING) FROM daily",
      "WITH a AS (SELECT * FROM events), b AS (SELECT * FROM a) SELECT count(*) FROM b",
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
      "SELECT * FROM n",
      "WITH events AS (SELECT * FROM events WHERE type = 'buy') SELECT count(*) FROM events",
      "SELECT * FROM events WHERE user_id IN (SELECT user_id FROM events WHERE type = 'buy')",
      "SELECT e.* FROM events e JOIN events f USING (user_id) WHERE f.ts > e.ts",
      "SELECT json_extract(properties, '$.price')::DOUBLE, properties->>'path', "
      "json_extract_string(context, '$.ip'), properties->'$.items[0]' FROM events",
      "SELECT date_trunc('hour', ts) AS h, approx_count_distinct(user_id), "
      "quantile_cont(epoch_ms(received_at) - epoch_ms(ts), 0.99) FROM events GROUP BY h",
      "SELECT strftime(ts, '%Y-%m'), regexp_extract(properties->>'path', '/(\\w+)', 1) "
      "FROM events",
      "SELECT now(), current_date, current_timestamp, today()",
      "SELECT * FROM range(10)",
      "SELECT * FROM generate_series(1, 3)",
      "SELECT unnest([1, 2, 3])",
      "SELECT * FROM events, unnest([1, 2]) AS t(x)",
      "SELECT key, value FROM events, json_each(properties)",
      "SELECT list_transform([1, 2], x -> x + 1), {'a': 1}, MAP {'k': 1}",
      "SELECT * FROM events TABLESAMPLE 10%",
      "DESCRIBE events",
      "DESCRIBE SELECT type FROM events",
      "SUMMARIZE events",
      "SELECT * FROM (VALUES (1, 'a')) AS v(n, s)",
      "SELECT CASE WHEN type = 'buy' THEN 1 ELSE 0 END, coalesce(user_id, anonymous_id) "
      "FROM events",
      "SELECT * FROM events PIVOT (count(*) FOR type IN ('buy', 'view'))",
      "SELECT pg_typeof(ts), typeof(properties) FROM events",
      "PIVOT events ON type IN ('buy', 'view') USING count(*)",  // a SELECT once IN is given
  };
  for (const char* sql : cases) {
    Status s = Check(sql);
    EXPECT_TRUE(s.ok()) << sql << "\n  " << s.ToString();
  }
}

}  // namespace
}  // namespace sluice
