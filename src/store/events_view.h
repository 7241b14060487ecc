// The `events` view: the one relation every query reads (SPEC §3.2 POST /v1/query, §4
// "queries span tiers transparently").
//
// An event lives in exactly one of two places as far as queries are concerned: a row of
// events_hot, or a row of a Parquet file recorded in archive_files for an hour that is
// marked evicted in archive_hours. The archiver (archiver.h) moves an hour by recording
// its files and deleting the hot rows they cover in one DuckDB transaction, so within any
// snapshot the two parts are disjoint and their union holds each event once. Archived
// hours that are not evicted yet are still read from the hot table; their files exist
// for external readers (DuckDB, Spark, Trino) and for the move.
//
// The file list is read in the caller's transaction, which must be the same one that runs
// the query (EventStore::WithEventsView does this).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

// Columns of the view, in order; the Parquet files hold all but `tenant` (it is in their
// path, as hive partitioning expects).
inline constexpr const char* kEventsViewColumns =
    "tenant, event_id, type, ts, received_at, user_id, anonymous_id, properties, context, "
    "source";

// How the view reads the hot tier.
struct HotBranch {
  // ANDed to the hot branch only: a predicate over events_hot's own columns (user_key.h)
  // that narrows without changing which rows match the caller's outer WHERE.
  std::string filter;
  // When set (P of user_projection.h), rows with ts < P are read from events_by_user and
  // rows at or past it from events_hot: the two hold the same rows below P.
  std::optional<int64_t> projected_until;
};

// The SELECT of the view for `tenant_or_empty` (all tenants when empty), with archive
// paths under `archive_root`. `every_archived_file` also reads the files of archived hours
// that are not evicted, whose rows are hot as well: a superset with events twice, for
// readers that want every row any tier holds (type_ranges.h), never for counting.
Result<std::string> EventsViewSql(duck::Connection& con, const std::string& archive_root,
                                  const std::string& tenant_or_empty, const HotBranch& hot = {},
                                  bool every_archived_file = false);

// `s` as a SQL string literal: quoted, with embedded quotes doubled.
std::string SqlQuote(std::string_view s);

// Microseconds since the epoch as a SQL TIMESTAMP expression (a constant the planner
// folds, so zone maps prune on it).
std::string SqlTimestamp(int64_t us);

}  // namespace sluice
