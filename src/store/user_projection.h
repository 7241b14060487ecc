// The user projection: events_by_user, a copy of the hot tier's older days sorted by
// (tenant, user_key, ts), so that a search for one user's events (GET /v1/events?user_id=)
// reads a few vectors instead of one vector per event.
//
// Why a copy. events_hot is in arrival order, which is what every time-bounded search
// wants (ts zone maps prune whole row groups). A user's ~100 events among 10M lie in ~100
// different vectors of ~60 row groups, and fetching them costs ~20 µs per vector and
// column: 38-46 ms for a page, over issue 3's 50 ms at p99 (bench/README.md, "Event
// search for one user"). Sorting the hot table by user would move that cost onto every
// time-sliced search instead, so sorted days are kept beside it, as ClickHouse keeps a
// projection. Measured on a 10M-event store: a user's page 45.7 → 11.5 ms (best of 20),
// 79.6 → 15.3 ms on average. The price is a second copy of the hot rows older than a day
// (on disk: the hot tier about doubles) and one sort of each day, once.
//
// The invariant, with P = user_projection.through (a UTC day boundary): in every snapshot
// the rows of events_by_user with ts < P are exactly the rows of events_hot with ts < P.
// Rows of events_by_user at or past P are a projection step's staging; no reader looks at
// them, and opening the store deletes any a crash left. A search for a user reads
// events_hot for ts >= P and events_by_user for ts < P (events_view.h), so each event is
// read once. Every writer of events_hot keeps the invariant:
//   - EventStore::ProjectNextDay copies the next day and moves P (event_store.h);
//   - the store consumer's batch copies its rows with ts < P (late events) in the same
//     transaction;
//   - the archiver deletes from both tables with the same predicate (evict, retention)
//     and re-copies an hour it rehydrates, in the transaction that changes events_hot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "store/duckdb_handle.h"

namespace sluice {

inline constexpr int64_t kProjectionDayUs = 86400ll * 1000000;

// events_hot's and events_by_user's columns, in table order.
inline constexpr const char* kHotColumnList =
    "tenant, event_id, type, ts, received_at, user_id, anonymous_id, properties, context, "
    "source, log_offset, user_key";

// P in `con`'s snapshot; empty when nothing has been projected yet.
Result<std::optional<int64_t>> LoadProjectedUntil(duck::Connection& con);

// Copies the hot rows matching `where_sql` into events_by_user, sorted by user.
Status CopyToProjection(duck::Connection& con, const std::string& where_sql);

// Deletes the events_by_user rows matching `where_sql`, a predicate the caller has just
// deleted from events_hot with (its columns are the same).
Status DeleteFromProjection(duck::Connection& con, const std::string& where_sql);

// Makes events_by_user's rows of one hour (`hour_sql` selects it) the hot rows of that
// hour again, when the hour lies below P: after rows were added to it by SQL.
Status RecopyProjectedHour(duck::Connection& con, const std::string& hour_sql, int64_t hour_end_us);

// The start of the UTC day holding `us`.
int64_t FloorProjectionDay(int64_t us);

}  // namespace sluice
