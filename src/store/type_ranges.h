// sluice_type_ranges: for every (tenant, type) the store holds, the smallest and largest ts.
//
// Why. A search filtered by type (GET /v1/events?type=…) walks time slices back from now
// until its page is full or it reaches year 1 (event_search.h). For a type the store holds
// rarely or not at all, that walk scans the type column of the whole history. Under full
// ingest load, with DuckDB narrowed to one thread, the first search for a new type took
// 200–260 ms at the median and up to ~1 s, and that set SPEC §1.7's freshness p99
// (bench/README, "Session 22"). With the range such a search skips the store when the type
// is absent, and otherwise reads only the type's own span of time.
//
// Covering in every snapshot: the store consumer widens the ranges in the same transaction
// that appends the rows (EventStore::WriteBatch), so a reader that reads the table in its
// own transaction sees ranges that cover every row its snapshot holds. Rows only enter the
// store through that path; the archive, the user projection and rehydration copy rows
// already in it. Deleting rows (eviction, retention) leaves ranges wider than needed,
// which costs a search time but never a result.
//
// Rows written without the ranges: by a binary from before them, so also after a
// downgrade and upgrade. Each batch records the consumer's position beside the ranges
// (sluice_type_ranges_through); at open, a position that differs from the consumer's
// committed one means another binary appended meanwhile, and the ranges are rebuilt from
// everything stored (RefreshTypeRangesIfStale). A tenant whose archive cannot be read then
// (a recorded Parquet file is missing) gets an "unknown" mark instead of ranges, and its
// type searches read the store as they did before the ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

struct StoreRow;

// ts range of one type, in µs since the epoch, both ends inclusive.
struct TypeRange {
  int64_t min_us = 0;
  int64_t max_us = 0;
};

// What the store knows of one (tenant, type).
struct TypeRangeLookup {
  // False when the tenant's ranges could not be built (see above): search unbounded.
  bool known = true;
  // When known: nullopt = the store holds no event of that type.
  std::optional<TypeRange> range;
};

// Widens the ranges by `rows` and records `consumer`'s new position beside them, inside the
// caller's transaction on `con` (the one that appends the rows and moves the position).
Status WidenTypeRanges(duck::Connection& con, const std::vector<StoreRow>& rows,
                       const std::string& consumer, uint64_t log_offset, uint64_t rows_applied);

// (tenant, type) in `con`'s current transaction.
Result<TypeRangeLookup> TypeRangeOn(duck::Connection& con, const std::string& tenant,
                                    const std::string& type);

// At open, before any batch: creates the tables, and (re)builds the ranges when they are
// missing or stale, from the hot rows and every recorded archive file under
// `archive_root`. `*rebuilt` says whether it did.
Status RefreshTypeRangesIfStale(duck::Connection& con, const std::string& archive_root,
                                bool* rebuilt);

}  // namespace sluice
