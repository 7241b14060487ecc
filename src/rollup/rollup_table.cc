// Rollup tables (rollup_table.h): schema and the read-merge-delete-append of a batch.
#include "rollup/rollup_table.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "store/events_view.h"

namespace sluice {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS rollups.rollup_1m (tenant VARCHAR NOT NULL, metric VARCHAR NOT "
    "NULL,"
    " bucket TIMESTAMP NOT NULL, g1 VARCHAR NOT NULL, g2 VARCHAR NOT NULL, g3 VARCHAR NOT NULL,"
    " cnt UBIGINT NOT NULL, sum DOUBLE NOT NULL, min DOUBLE, max DOUBLE, hll BLOB);"
    "CREATE TABLE IF NOT EXISTS rollups.rollup_1h (tenant VARCHAR NOT NULL, metric VARCHAR NOT "
    "NULL,"
    " bucket TIMESTAMP NOT NULL, g1 VARCHAR NOT NULL, g2 VARCHAR NOT NULL, g3 VARCHAR NOT NULL,"
    " cnt UBIGINT NOT NULL, sum DOUBLE NOT NULL, min DOUBLE, max DOUBLE, hll BLOB);"
    // A metric's definition and where its history comes from: the live consumer applies
    // it to log records from start_offset on, the backfill to stored events before that.
    "CREATE TABLE IF NOT EXISTS rollups.rollup_metrics (tenant VARCHAR NOT NULL, name VARCHAR NOT "
    "NULL,"
    " spec VARCHAR NOT NULL, start_offset UBIGINT NOT NULL, backfill_done BOOLEAN NOT NULL,"
    " backfill_cursor TIMESTAMP, backfill_end TIMESTAMP, backfill_events UBIGINT NOT NULL,"
    " PRIMARY KEY (tenant, name));"
    // The rollup consumer's committed log offset (name 'rollup'), committed with its cells,
    // and the mark of a move out of the store's file (MoveRollupsOutOfTheStore).
    "CREATE TABLE IF NOT EXISTS rollups.consumer_offsets (name VARCHAR PRIMARY KEY,"
    " log_offset UBIGINT NOT NULL);";

// Rollups written by versions that kept them in the store's own file move here once: the
// tables and the consumer's offset are copied in one transaction of the rollup database,
// which also records the move, then the old tables are dropped from the store's. A crash
// between the two leaves the mark, and the next start only drops.
// The first column of `sql`'s first row (a count), 0 when there is none.
Result<uint64_t> CountOf(duck::Connection& con, const char* sql) {
  auto r = con.Query(sql);
  if (!r.ok()) return r.status();
  auto n = r->FirstUInt64();
  if (!n.ok()) return n.status();
  return n->value_or(0);
}

Status MoveRollupsOutOfTheStore(duck::Connection& con) {
  auto old = CountOf(con,
                     "SELECT count(*)::UBIGINT FROM duckdb_tables() WHERE database_name = "
                     "current_database() AND schema_name = 'main' AND table_name = 'rollup_1m'");
  if (!old.ok()) return old.status();
  if (*old == 0) return Status::OK();
  auto moved =
      CountOf(con, "SELECT count(*)::UBIGINT FROM rollups.consumer_offsets WHERE name = 'moved'");
  if (!moved.ok()) return moved.status();
  if (*moved == 0) {
    SLUICE_RETURN_IF_ERROR(con.Exec("BEGIN TRANSACTION"));
    Status s = con.Exec(
        "INSERT INTO rollups.rollup_1m SELECT * FROM main.rollup_1m;"
        "INSERT INTO rollups.rollup_1h SELECT * FROM main.rollup_1h;"
        "INSERT INTO rollups.rollup_metrics SELECT * FROM main.rollup_metrics;"
        "INSERT INTO rollups.consumer_offsets SELECT name, log_offset FROM main.consumer_offsets "
        "WHERE name = 'rollup';"
        "INSERT INTO rollups.consumer_offsets VALUES ('moved', 1);");
    if (s.ok()) s = con.Exec("COMMIT");
    if (!s.ok()) {
      (void)con.Exec("ROLLBACK");
      return s;
    }
    spdlog::info("rollups moved from the store's file to their own (rollups.duckdb)");
  }
  SLUICE_RETURN_IF_ERROR(con.Exec("BEGIN TRANSACTION"));
  Status s = con.Exec(
      "DROP TABLE main.rollup_1m; DROP TABLE main.rollup_1h; DROP TABLE main.rollup_metrics;"
      "DELETE FROM main.consumer_offsets WHERE name = 'rollup';");
  if (s.ok()) s = con.Exec("COMMIT");
  if (!s.ok()) (void)con.Exec("ROLLBACK");
  return s;
}

// Columns of the rollup tables, in order.
enum Column : idx_t {
  kTenant,
  kMetric,
  kBucket,
  kG1,
  kG2,
  kG3,
  kCnt,
  kSum,
  kMin,
  kMax,
  kHll,
  kCols
};

void SetKey(duckdb_vector* v, idx_t row, const RollupKey& k) {
  duck::SetString(v[kTenant], row, k.tenant);
  duck::SetString(v[kMetric], row, k.metric);
  static_cast<duckdb_timestamp*>(duckdb_vector_get_data(v[kBucket]))[row].micros = k.bucket_us;
  duck::SetString(v[kG1], row, k.groups[0]);
  duck::SetString(v[kG2], row, k.groups[1]);
  duck::SetString(v[kG3], row, k.groups[2]);
}

// Appends the cells as rows of `table` through whole chunks.
Status AppendCells(duck::Connection& con, const char* table, const CellMap& cells) {
  auto app = duck::Appender::Create(con, table);
  if (!app.ok()) return app.status();
  if (app->column_count() != kCols) {
    return Status::Internal(std::string("rollup: ") + table + " has " +
                            std::to_string(app->column_count()) + " columns, expected " +
                            std::to_string(kCols));
  }
  const size_t cap = duckdb_vector_size();
  auto it = cells.begin();
  while (it != cells.end()) {
    duck::DataChunk chunk = app->NewChunk();
    if (!chunk) return Status::Internal("rollup: cannot allocate a data chunk");
    duckdb_vector v[kCols];
    for (idx_t c = 0; c < kCols; ++c) v[c] = chunk.column(c);
    idx_t n = 0;
    std::string hll;
    for (; n < cap && it != cells.end(); ++n, ++it) {
      SetKey(v, n, it->first);
      const RollupCell& c = it->second;
      static_cast<uint64_t*>(duckdb_vector_get_data(v[kCnt]))[n] = c.count;
      static_cast<double*>(duckdb_vector_get_data(v[kSum]))[n] = c.sum;
      if (c.min <= c.max) {
        static_cast<double*>(duckdb_vector_get_data(v[kMin]))[n] = c.min;
        static_cast<double*>(duckdb_vector_get_data(v[kMax]))[n] = c.max;
      } else {
        duck::SetNull(v[kMin], n);
        duck::SetNull(v[kMax], n);
      }
      if (c.hll.empty()) {
        duck::SetNull(v[kHll], n);
      } else {
        hll = c.hll.Serialize();
        duck::SetString(v[kHll], n, hll);
      }
    }
    chunk.set_size(n);
    SLUICE_RETURN_IF_ERROR(app->AppendChunk(chunk));
  }
  return app->Close();
}

}  // namespace

std::string RollupDatabasePath(const std::string& store_path) {
  const size_t slash = store_path.rfind('/');
  return (slash == std::string::npos ? std::string() : store_path.substr(0, slash + 1)) +
         "rollups.duckdb";
}

Status CreateRollupSchema(duck::Connection& con) {
  // A store opened without the rollup database (tools, tests) gets it beside its file.
  auto attached = CountOf(
      con, "SELECT count(*)::UBIGINT FROM duckdb_databases() WHERE database_name = 'rollups'");
  if (!attached.ok()) return attached.status();
  if (*attached == 0) {
    auto p =
        con.Query("SELECT path FROM duckdb_databases() WHERE database_name = current_database()");
    if (!p.ok()) return p.status();
    Status st;
    duck::DataChunk chunk = p->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk || chunk.size() == 0 || !duck::IsValid(chunk.column(0), 0)) {
      return Status::Internal("rollups: the store's database has no file to put rollups beside");
    }
    const std::string path = RollupDatabasePath(std::string(duck::GetString(chunk.column(0), 0)));
    SLUICE_RETURN_IF_ERROR(con.Exec("ATTACH IF NOT EXISTS " + SqlQuote(path) + " AS rollups"));
  }
  SLUICE_RETURN_IF_ERROR(con.Exec(kSchema));
  return MoveRollupsOutOfTheStore(con);
}

const char* RollupTableName(int64_t width_us) {
  return width_us == kHourUs ? "rollups.rollup_1h" : "rollups.rollup_1m";
}

Status ReadCell(const duck::DataChunk& chunk, idx_t row, idx_t first, RollupCell* cell) {
  cell->count = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(first)))[row];
  cell->sum = static_cast<const double*>(duckdb_vector_get_data(chunk.column(first + 1)))[row];
  if (duck::IsValid(chunk.column(first + 2), row)) {
    cell->min = static_cast<const double*>(duckdb_vector_get_data(chunk.column(first + 2)))[row];
    cell->max = static_cast<const double*>(duckdb_vector_get_data(chunk.column(first + 3)))[row];
  }
  if (duck::IsValid(chunk.column(first + 4), row)) {
    auto h = HyperLogLog::Deserialize(duck::GetString(chunk.column(first + 4), row));
    if (!h.ok()) return h.status();
    cell->hll = std::move(*h);
  }
  return Status::OK();
}

Status MergeCells(duck::Connection& con, int64_t width_us, const CellMap& batch) {
  if (batch.empty()) return Status::OK();
  const std::string table = RollupTableName(width_us);
  // Which stored rows can hold a batch key: the batch's windows (listed when few, a range
  // otherwise), metrics and tenants. A live batch touches one or two windows, whose rows it
  // mostly touches anyway; the rows read but not in the batch are left alone.
  std::set<int64_t> buckets;
  std::set<std::string_view> metrics, tenants;
  for (const auto& [k, c] : batch) {
    buckets.insert(k.bucket_us);
    metrics.insert(k.metric);
    tenants.insert(k.tenant);
  }
  constexpr size_t kMaxListed = 64;
  std::string where;
  if (buckets.size() <= kMaxListed) {
    where = "bucket IN (";
    for (int64_t b : buckets) {
      where += (where.back() == '(' ? "" : ", ");
      where += "make_timestamp(" + std::to_string(b) + ")";
    }
    where += ")";
  } else {
    where = "bucket BETWEEN make_timestamp(" + std::to_string(*buckets.begin()) +
            ") AND make_timestamp(" + std::to_string(*buckets.rbegin()) + ")";
  }
  auto in_list = [&](const char* column, const std::set<std::string_view>& values) {
    if (values.size() > kMaxListed) return;
    where += std::string(" AND ") + column + " IN (";
    bool first = true;
    for (std::string_view v : values) {
      where += (first ? "" : ", ") + SqlQuote(v);
      first = false;
    }
    where += ")";
  };
  in_list("metric", metrics);
  in_list("tenant", tenants);

  CellMap merged = batch;
  std::string rowids;
  auto existing = con.Query(
      "SELECT rowid, tenant, metric, epoch_us(bucket), g1, g2, g3, cnt, sum, min, max, hll FROM " +
      table + " WHERE " + where);
  if (!existing.ok()) return existing.status();
  RollupKey k;
  while (true) {
    Status st;
    duck::DataChunk chunk = existing->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) break;
    const auto* rowid = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
    const auto* bucket = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(3)));
    for (idx_t row = 0; row < chunk.size(); ++row) {
      k.tenant.assign(duck::GetString(chunk.column(1), row));
      k.metric.assign(duck::GetString(chunk.column(2), row));
      k.bucket_us = bucket[row];
      for (int g = 0; g < 3; ++g) k.groups[g].assign(duck::GetString(chunk.column(4 + g), row));
      auto it = merged.find(k);
      if (it == merged.end()) continue;  // a neighbour of the batch's keys: untouched
      RollupCell stored;
      SLUICE_RETURN_IF_ERROR(ReadCell(chunk, row, 7, &stored));
      it->second.Merge(stored);
      rowids += (rowids.empty() ? "" : ", ") + std::to_string(rowid[row]);
    }
  }
  if (!rowids.empty()) {
    SLUICE_RETURN_IF_ERROR(
        con.Exec("DELETE FROM " + table + " WHERE " + where + " AND rowid IN (" + rowids + ")"));
  }
  return AppendCells(con, table.c_str(), merged);
}

}  // namespace sluice
