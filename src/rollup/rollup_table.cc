// Rollup tables (rollup_table.h): schema and the read-merge-delete-append of a batch.
#include "rollup/rollup_table.h"

#include <algorithm>
#include <vector>

namespace sluice {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS rollup_1m (tenant VARCHAR NOT NULL, metric VARCHAR NOT NULL,"
    " bucket TIMESTAMP NOT NULL, g1 VARCHAR NOT NULL, g2 VARCHAR NOT NULL, g3 VARCHAR NOT NULL,"
    " cnt UBIGINT NOT NULL, sum DOUBLE NOT NULL, min DOUBLE, max DOUBLE, hll BLOB);"
    "CREATE TABLE IF NOT EXISTS rollup_1h (tenant VARCHAR NOT NULL, metric VARCHAR NOT NULL,"
    " bucket TIMESTAMP NOT NULL, g1 VARCHAR NOT NULL, g2 VARCHAR NOT NULL, g3 VARCHAR NOT NULL,"
    " cnt UBIGINT NOT NULL, sum DOUBLE NOT NULL, min DOUBLE, max DOUBLE, hll BLOB);"
    // A metric's definition and where its history comes from: the live consumer applies
    // it to log records from start_offset on, the backfill to stored events before that.
    "CREATE TABLE IF NOT EXISTS rollup_metrics (tenant VARCHAR NOT NULL, name VARCHAR NOT NULL,"
    " spec VARCHAR NOT NULL, start_offset UBIGINT NOT NULL, backfill_done BOOLEAN NOT NULL,"
    " backfill_cursor TIMESTAMP, backfill_end TIMESTAMP, backfill_events UBIGINT NOT NULL,"
    " PRIMARY KEY (tenant, name));";

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

constexpr const char* kKeyMatch =
    "r.tenant = t.tenant AND r.metric = t.metric AND r.bucket = t.bucket AND r.g1 = t.g1 AND "
    "r.g2 = t.g2 AND r.g3 = t.g3";

void SetKey(duckdb_vector* v, idx_t row, const RollupKey& k) {
  duck::SetString(v[kTenant], row, k.tenant);
  duck::SetString(v[kMetric], row, k.metric);
  static_cast<duckdb_timestamp*>(duckdb_vector_get_data(v[kBucket]))[row].micros = k.bucket_us;
  duck::SetString(v[kG1], row, k.groups[0]);
  duck::SetString(v[kG2], row, k.groups[1]);
  duck::SetString(v[kG3], row, k.groups[2]);
}

// Appends rows to `table` through whole chunks; with_values=false writes only the key
// columns (the touch table).
Status AppendCells(duck::Connection& con, const char* table, const CellMap& cells,
                   bool with_values) {
  auto app = duck::Appender::Create(con, table);
  if (!app.ok()) return app.status();
  const idx_t want = with_values ? kCols : kG3 + 1;
  if (app->column_count() != want) {
    return Status::Internal(std::string("rollup: ") + table + " has " +
                            std::to_string(app->column_count()) + " columns, expected " +
                            std::to_string(want));
  }
  const size_t cap = duckdb_vector_size();
  auto it = cells.begin();
  while (it != cells.end()) {
    duck::DataChunk chunk = app->NewChunk();
    if (!chunk) return Status::Internal("rollup: cannot allocate a data chunk");
    duckdb_vector v[kCols];
    for (idx_t c = 0; c < want; ++c) v[c] = chunk.column(c);
    idx_t n = 0;
    std::string hll;
    for (; n < cap && it != cells.end(); ++n, ++it) {
      SetKey(v, n, it->first);
      if (!with_values) continue;
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

Status CreateRollupSchema(duck::Connection& con) { return con.Exec(kSchema); }

const char* RollupTableName(int64_t width_us) {
  return width_us == kHourUs ? "rollup_1h" : "rollup_1m";
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
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (const auto& [k, c] : batch) {
    lo = std::min(lo, k.bucket_us);
    hi = std::max(hi, k.bucket_us);
  }
  const std::string range = " AND r.bucket BETWEEN make_timestamp(" + std::to_string(lo) +
                            ") AND make_timestamp(" + std::to_string(hi) + ")";
  SLUICE_RETURN_IF_ERROR(
      con.Exec("CREATE TEMP TABLE IF NOT EXISTS rollup_touch (tenant VARCHAR, metric VARCHAR, "
               "bucket TIMESTAMP, g1 VARCHAR, g2 VARCHAR, g3 VARCHAR); DELETE FROM rollup_touch"));
  SLUICE_RETURN_IF_ERROR(AppendCells(con, "rollup_touch", batch, /*with_values=*/false));

  CellMap merged = batch;
  auto existing = con.Query(
      "SELECT r.tenant, r.metric, epoch_us(r.bucket), r.g1, r.g2, r.g3, r.cnt, r.sum, r.min, "
      "r.max, r.hll FROM " +
      table + " r JOIN rollup_touch t ON " + kKeyMatch + " WHERE true" + range);
  if (!existing.ok()) return existing.status();
  while (true) {
    Status st;
    duck::DataChunk chunk = existing->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) break;
    for (idx_t row = 0; row < chunk.size(); ++row) {
      RollupKey k;
      k.tenant = std::string(duck::GetString(chunk.column(0), row));
      k.metric = std::string(duck::GetString(chunk.column(1), row));
      k.bucket_us = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(2)))[row];
      for (int g = 0; g < 3; ++g)
        k.groups[g] = std::string(duck::GetString(chunk.column(3 + g), row));
      RollupCell stored;
      SLUICE_RETURN_IF_ERROR(ReadCell(chunk, row, 6, &stored));
      merged[k].Merge(stored);
    }
  }
  SLUICE_RETURN_IF_ERROR(
      con.Exec("DELETE FROM " + table + " r USING rollup_touch t WHERE " + kKeyMatch + range));
  return AppendCells(con, table.c_str(), merged, /*with_values=*/true);
}

}  // namespace sluice
