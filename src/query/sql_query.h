// RunSqlQuery: a tenant's read-only SQL over its `events` view (SPEC §3.2 POST /v1/query,
// §3.1 `sluice query`), within the configured time, row and memory limits.
//
// Layers, each enough on its own for the common escapes and together for the rest:
//   1. SqlGuard (sql_guard.h) checks the parsed statement before anything runs: one
//      SELECT over `events`, its CTEs and pure generators only; no files, catalog,
//      settings or other tables.
//   2. The statement runs on a fresh connection inside EventStore::WithEventsView, where a
//      temporary view `events` holds the tenant's rows only (hot table and archive, one
//      snapshot). Prepared, it must still be a single SELECT.
//   3. DuckDB itself cannot open files outside the archive (EventStoreOptions::file_roots),
//      cannot re-enable that, and bounds memory by [store] memory_limit_bytes.
//
// Limits: a watchdog interrupts the connection at [query] timeout_ms (DeadlineExceeded);
// at most [query] max_rows rows are kept (result marked truncated; the rest is never
// produced since the result streams); DuckDB's out-of-memory error becomes
// ResourceExhausted naming [store] memory_limit_bytes. Refused or invalid SQL is
// InvalidArgument. Error messages are one line.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "query/sql_result.h"
#include "store/event_store.h"

namespace sluice {

struct SqlQueryLimits {
  int timeout_ms = 30000;           // [query] timeout_ms
  uint64_t max_rows = 100000;       // [query] max_rows
  uint64_t memory_limit_bytes = 0;  // [store] memory_limit_bytes, for messages; 0 = default
};

Result<SqlResult> RunSqlQuery(EventStore& store, const std::string& tenant, const std::string& sql,
                              const SqlQueryLimits& limits);

}  // namespace sluice
