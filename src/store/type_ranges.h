// type_ranges: for every (tenant, type) the store holds, the smallest and largest ts.
//
// Why. A search filtered by type (GET /v1/events?type=…) walks time slices back from now
// until its page is full or it reaches year 1 (event_search.h). For a type the store holds
// rarely or not at all, that walk scans the type column of the whole history. Under full
// ingest load, with DuckDB narrowed to one thread, that took 110–300 ms at the median and
// up to ~1 s, and it is what set SPEC §1.7's freshness p99 for a just-sent event of a new
// type (bench/README, "Session 22"). With the range, such a search skips the store
// when the type is absent and otherwise reads only [min_ts, max_ts].
//
// Exact in every snapshot: the store consumer widens the ranges in the same transaction
// that appends the rows (EventStore::WriteBatch), so a reader that reads type_ranges in
// its own transaction sees ranges that cover every row its snapshot holds. Rows are only
// ever added to the store through that path or copied within it (the archive, the user
// projection, rehydration), so the ranges never miss a row; deleting rows (eviction,
// retention) leaves them wider than needed, which costs a search time but never a result.
// Stores from before this table fill it once at open from everything the `events` view
// holds (FillTypeRanges).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

struct StoreRow;

inline constexpr const char* kTypeRangesDdl =
    "CREATE TABLE IF NOT EXISTS type_ranges (tenant VARCHAR NOT NULL, type VARCHAR NOT NULL,"
    " min_ts TIMESTAMP NOT NULL, max_ts TIMESTAMP NOT NULL, PRIMARY KEY (tenant, type));";

// ts range of one type, in µs since the epoch, both ends inclusive.
struct TypeRange {
  int64_t min_us = 0;
  int64_t max_us = 0;
};

// Widens type_ranges by `rows`, inside the caller's transaction on `con`.
Status WidenTypeRanges(duck::Connection& con, const std::vector<StoreRow>& rows);

// (tenant, type)'s range in `con`'s current transaction; nullopt when the store holds no
// event of that type.
Result<std::optional<TypeRange>> TypeRangeOn(duck::Connection& con, const std::string& tenant,
                                             const std::string& type);

// Fills type_ranges from `view_sql` (the all-tenants `events` view, read in the caller's
// transaction): the one-time migration of a store made before the table.
Status FillTypeRanges(duck::Connection& con, const std::string& view_sql);

}  // namespace sluice
