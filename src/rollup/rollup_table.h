// The rollup tables (their own DuckDB file, see below): schema, and how a batch's cells merge into
// the stored windows inside the caller's transaction (SPEC §4 "rollups", §6).
//
// rollup_1m and rollup_1h hold one row per (tenant, metric, window start, group values):
// count, sum, min, max and the HyperLogLog registers (BLOB, unique metrics only). 5m is
// merged from 1m and 1d from 1h at query time (metric_query.h); 1h is also kept on write
// because a 7-day hourly series then reads 168 rows per group instead of 10,080.
//
// Merging a cell: the stored rows for the batch's keys are read back, merged in C++ (the
// HLL merge is register-wise max, which SQL cannot express on a BLOB), deleted by rowid,
// and the merged rows appended — all in the caller's transaction, so the commit that
// carries the consumer offset carries exactly this batch's contribution. The tables have
// no primary key: DuckDB's ART index on 1.4 makes delete-then-insert of a key in one
// transaction fragile and every append slower, and keys are unique by this construction.
// The read is bounded by the batch's windows (zone maps skip older row groups), metrics
// and tenants: three statements per table and batch, which matters because the consumer
// commits several times a second and DuckDB's per-statement cost dominates a small batch.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "rollup/rollup_cells.h"
#include "store/duckdb_handle.h"

namespace sluice {

// The rollups live in their own database file beside the store's (data_dir/rollups.duckdb),
// attached to the store's DuckDB instance as `rollups` (EventStoreOptions::attach), so
// their names here are qualified. Why a file of their own: a DuckDB checkpoint holds
// every writer of its file, and the store's, recompressing row groups under sustained
// load, held the rollup consumer's commits for 1-2 s, putting metric freshness past
// SPEC §1.7's 1 s. In one DuckDB instance, the metric backfill still reads the store's
// events (through the events view) and writes the rollups with plain SQL; a transaction
// may read several attached databases but write only one, and each transaction here
// writes only the rollups.
std::string RollupDatabasePath(const std::string& store_path);

// Attaches the rollup database beside the store's file if the store was opened without it,
// creates the rollup tables, rollup_metrics and the consumer's offset table if missing,
// and moves rollups an older version kept in the store's file.
Status CreateRollupSchema(duck::Connection& con);

// "rollups.rollup_1m" or "rollups.rollup_1h".
const char* RollupTableName(int64_t width_us);

// Merges `cells` (all of width `width_us`) into its table; the caller holds a transaction.
Status MergeCells(duck::Connection& con, int64_t width_us, const CellMap& cells);

// Reads a stored row's aggregate columns into a cell (query side).
Status ReadCell(const duck::DataChunk& chunk, idx_t row, idx_t first_column, RollupCell* cell);

}  // namespace sluice
