// SqlGuard: decides whether a tenant's SQL may run (SPEC §1.4, §3.2 POST /v1/query).
//
// User SQL runs on a connection of the same DuckDB database that holds every tenant's
// rows, the metadata tables and the paths of the archive, so the text itself must be
// shown to reach nothing but the tenant's `events` view before it runs. Checking it with
// string matching cannot work (quoting, comments, case, replacement scans such as
// `FROM '/etc/passwd'`); instead DuckDB's own parser produces the syntax tree
// (json_serialize_sql, which parses without binding or running anything and accepts
// only SELECT statements), and the guard walks every node of it:
//
//   - exactly one statement, and it is a SELECT (DESCRIBE/SUMMARIZE of a query allowed,
//     SHOW of catalog objects not);
//   - every table reference is unqualified and names `events` or a CTE of the query; a
//     quoted path or a file name is a table reference too, so it is refused here;
//   - a CTE may not be named after anything that already resolves in the catalog, since a
//     CTE is visible only in its own scope (and a non-recursive one not in its own body):
//     `WITH events_hot AS (...)` in a subquery would let an outer `events_hot` reach the
//     real table. CTE names must be plain identifiers (no file-name replacement scans);
//   - table functions only from a short list of pure generators (range, unnest, ...);
//   - scalar functions that read settings, variables, sequences, the catalog, the
//     query text, logs or column statistics are refused by name (stats() would show the
//     min/max of the whole hot table's tenant column, other tenants included).
//
// What is not checked here is enforced where the query runs (sql_query.h): the prepared
// statement must be one SELECT, and DuckDB itself cannot touch files outside the data
// directory's archive (EventStoreOptions::file_roots).
//
// Refusals are one line naming what the user wrote and why; they never mention other
// tenants, table contents or counts.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

// The view every tenant query reads.
inline constexpr const char* kQueryViewName = "events";

// OK if `sql` may run; InvalidArgument with the reason otherwise (also for a syntax
// error). `con` is used only to parse and to look names up in the catalog: it must not
// be inside a transaction the caller cares about, since a failed lookup aborts one.
Status CheckQuerySql(duck::Connection& con, std::string_view sql);

}  // namespace sluice
