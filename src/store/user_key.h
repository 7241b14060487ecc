// UserKey: a 32-bit hash of user_id stored beside it in events_hot, so a search for one
// user (GET /v1/events?user_id=) filters an integer column instead of decompressing the
// FSST-compressed user_id of every row.
//
// user_id is nearly unique within a row group, so its zone maps prune nothing and an
// equality filter on it decodes the whole column: ~0.3 s of CPU over 10M events, and a
// user's page of 100 missed the 50 ms target by 2-4x. Equality on a bit-packed UINTEGER
// costs a fraction of that (bench/README.md, "Event search"). A hash may collide, so
// the search keeps `user_id = ?` beside `user_key = ?`; the key only narrows.
//
// Invariant: every hot row with a user_id has user_key = UserKey(user_id). The store
// consumer computes it while appending; rows written by SQL (rehydrate, and tables made
// before the column existed) get it from FillUserKeys in the same transaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

uint32_t UserKey(std::string_view user_id);

// Sets user_key on the hot rows matching `where_sql` (a predicate over events_hot) that
// have a user_id and no key yet.
Status FillUserKeys(duck::Connection& con, const std::string& where_sql);

}  // namespace sluice
