// The DuckDB behaviour the store relies on, pinned down against the bundled libduckdb
// (1.4.4) so an upgrade that changes it fails here rather than in production: appenders
// join the connection's explicit transaction, a failed append aborts it, and streaming
// results really stream.
#include "store/duckdb_handle.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::duck {
namespace {

class DuckHandleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open("", {});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto con = Connection::Open(db_);
    ASSERT_TRUE(con.ok()) << con.status().ToString();
    con_ = std::move(*con);
    ASSERT_TRUE(con_.Exec("CREATE TABLE t (a VARCHAR NOT NULL, p JSON)").ok());
  }

  uint64_t Count() {
    auto r = con_.Query("SELECT count(*)::UBIGINT FROM t");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return UINT64_MAX;
    auto v = r->FirstUInt64();
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? **v : UINT64_MAX;
  }

  // Appends rows a0..a{n-1}; `null_at` (if < n) gets a NULL in the NOT NULL column.
  Status AppendRows(int n, int null_at = -1) {
    auto app = Appender::Create(con_, "t");
    if (!app.ok()) return app.status();
    DataChunk chunk = app->NewChunk();
    for (int i = 0; i < n; ++i) {
      if (i == null_at) {
        SetNull(chunk.column(0), i);
      } else {
        SetString(chunk.column(0), i, "a" + std::to_string(i));
      }
      SetString(chunk.column(1), i, R"({"k":1})");
    }
    chunk.set_size(n);
    SLUICE_RETURN_IF_ERROR(app->AppendChunk(chunk));
    return app->Close();
  }

  Database db_;
  Connection con_;
};

TEST_F(DuckHandleTest, JsonTypeIsBuiltIn) {
  auto r = con_.Query(
      "SELECT data_type::VARCHAR = 'JSON' FROM duckdb_columns() WHERE table_name = 't' "
      "AND column_name = 'p'");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(con_.Exec("SELECT json_extract('{\"a\":1}', '$.a')").ok());
}

TEST_F(DuckHandleTest, AppenderJoinsExplicitTransaction) {
  ASSERT_TRUE(con_.Exec("BEGIN").ok());
  ASSERT_TRUE(AppendRows(10).ok());
  EXPECT_EQ(Count(), 10u);  // visible inside the transaction
  ASSERT_TRUE(con_.Exec("ROLLBACK").ok());
  EXPECT_EQ(Count(), 0u);

  ASSERT_TRUE(con_.Exec("BEGIN").ok());
  ASSERT_TRUE(AppendRows(10).ok());
  ASSERT_TRUE(con_.Exec("COMMIT").ok());
  EXPECT_EQ(Count(), 10u);
}

TEST_F(DuckHandleTest, FailedAppendAbortsTransactionAndCommitDoesNotSaveIt) {
  ASSERT_TRUE(con_.Exec("BEGIN").ok());
  ASSERT_TRUE(con_.Exec("INSERT INTO t VALUES ('before', NULL)").ok());
  Status s = AppendRows(10, /*null_at=*/5);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NOT NULL"), std::string::npos) << s.ToString();
  // The transaction is dead: statements fail, and COMMIT ends it without saving
  // (it may or may not report an error), so callers must check every step themselves.
  EXPECT_FALSE(con_.Query("SELECT 1").ok());
  (void)con_.Exec("COMMIT");
  (void)con_.Exec("ROLLBACK");
  EXPECT_EQ(Count(), 0u);
}

TEST_F(DuckHandleTest, JsonColumnIsNotValidatedOnAppend) {
  // Why the store can use JSON at VARCHAR's append cost: the appender stores the text.
  auto app = Appender::Create(con_, "t");
  ASSERT_TRUE(app.ok());
  DataChunk chunk = app->NewChunk();
  SetString(chunk.column(0), 0, "x");
  SetString(chunk.column(1), 0, "{not json");
  chunk.set_size(1);
  ASSERT_TRUE(app->AppendChunk(chunk).ok());
  EXPECT_TRUE(app->Close().ok());
  EXPECT_EQ(Count(), 1u);
}

TEST_F(DuckHandleTest, StreamingResultFetchesChunkByChunk) {
  ASSERT_TRUE(con_.Exec("INSERT INTO t SELECT 'r' || i, NULL FROM range(10000) tbl(i)").ok());
  auto stmt = con_.Prepare("SELECT a FROM t WHERE a LIKE $1");
  ASSERT_TRUE(stmt.ok()) << stmt.status().ToString();
  ASSERT_TRUE(stmt->BindVarchar(1, "r%").ok());
  auto r = stmt->ExecuteStreaming();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->streaming());
  uint64_t rows = 0, chunks = 0;
  Status st;
  while (DataChunk c = r->FetchChunk(&st)) {
    ++chunks;
    for (idx_t i = 0; i < c.size(); ++i) EXPECT_EQ(GetString(c.column(0), i).substr(0, 1), "r");
    rows += c.size();
  }
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(rows, 10000u);
  EXPECT_GE(chunks, 10000 / duckdb_vector_size());
}

TEST_F(DuckHandleTest, ErrorsCarryDuckDbText) {
  auto r = con_.Query("SELECT * FROM no_such_table");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no_such_table"), std::string::npos);
  auto p = con_.Prepare("SELEC 1");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("syntax"), std::string::npos) << p.status().ToString();
  auto app = Appender::Create(con_, "missing");
  EXPECT_FALSE(app.ok());
  auto v = con_.Query("SELECT 1::INTEGER");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->FirstUInt64().status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::duck
