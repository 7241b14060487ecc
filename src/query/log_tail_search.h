// Event search over the log's tail: events that are acknowledged (durable in the log) but
// not yet committed to DuckDB by the store consumer (SPEC §1.7 freshness).
//
// Why. An event becomes durable in the log within a millisecond of its arrival, but it
// reaches events_hot only with the store consumer's next DuckDB commit: at sustained load
// that is up to [store] max_lag_ms behind (the ack pacer's bound), plus any
// checkpoint DuckDB runs inside a commit. Those checkpoints recompress several row groups
// and stall the consumer for up to a second or two, so search freshness p99 stayed over
// SPEC §1.7's 1 s however the batches were sized (bench/README.md, sessions 16-20).
// Real-time OLAP stores answer the same way: Druid and Pinot query their in-memory
// ingestion buffers beside the persisted segments.
//
// Exactly once. SearchEvents reads the store consumer's committed position in the same
// DuckDB transaction (and so snapshot) as the events view, and this scan starts exactly
// there: every record before the position is in the snapshot's rows, every one from it on
// is read here, skipping the events of a half-applied record the snapshot already holds
// (ConsumerPosition::rows_applied). The store appends every event of an event or
// connector record as one row, so the rows the store will write for the tail are the
// events this scan sees: the union counts each once, before, during and after the commit
// that moves them. A segment collected between reading the position and reading it shows
// as NotFound; the caller retries on a newer snapshot, which has those rows.
//
// Cost. A record whose bytes lack the requested tenant, type or user_id is skipped with a
// memmem; the others have every event decoded (varint fields, no JSON), and the
// properties of those that pass the other filters parsed. At sustained load the tail is
// up to the ack pacer's ~1 s of events plus the batch being committed (several hundred
// thousand); idle it is empty. It is bounded by `max_bytes` of records ([search]
// log_tail_bytes, 256 MiB): past that, newer events wait for the store as before. Records
// come from the log's tail cache ([log] tail_cache_bytes, 128 MiB, zero-copy); an older
// tail, rare at the pacer's bound, is read from the segment files. The two defaults differ
// on purpose: a bigger cache would cost every server 128 MiB more memory, and a smaller
// bound would hide the newest events whenever the store lags past it. Visibility stays monotonic —
// an event once returned is returned by every later search — because the store's position only
// moves forward and the scan always starts at it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/log.h"
#include "query/event_cursor.h"
#include "query/event_search.h"
#include "store/event_store.h"

namespace sluice {

// One event of the tail on a search page: its position in the search order and its JSON
// object, as SearchEvents renders stored rows.
struct TailEvent {
  EventCursor key;
  std::string json;
};

struct TailScan {
  std::vector<TailEvent> events;  // the best matches, in search order (ts DESC, id DESC)
  bool truncated = false;         // stopped at max_bytes before the durable end
};

// Reads the log from `from` to its durable end (records of at most `max_bytes` in all) and
// returns the events of `request.tenant` that match the request's filters and cursor, the
// first `want` in search order. When `from` was collected already, NotFound, unless
// `from_start_if_collected` (no stored position, or the caller's last try): then the scan
// starts at the log's start. An error reading the log is returned as is.
Result<TailScan> SearchLogTail(Log& log, ConsumerPosition from, const EventSearchRequest& request,
                               size_t want, uint64_t max_bytes,
                               bool from_start_if_collected = true);

// Whether `properties` (a stored, minified JSON object; empty = none) matches `filter`
// with the semantics PropertyFilter states, which the SQL of a stored-row search encodes.
bool PropertyMatches(std::string_view properties, const PropertyFilter& filter);

}  // namespace sluice
