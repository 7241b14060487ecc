// Event search: GET /v1/events (SPEC §3.2) — a tenant's events, newest first, filtered,
// one page at a time.
//
// Order: ts DESC, then event_id DESC (byte order) between events of the same timestamp,
// so the order is total and stable across pages and tiers. Paging is by key, not offset:
// the cursor (event_cursor.h) is the last event's (ts, event_id) and the next page is
// what sorts strictly after it. Events that arrive meanwhile with a newer ts sort before
// the cursor and never shift a page; late events with an older ts show up once, in the
// page their position falls in. Every event older than the cursor that existed when
// paging began is therefore returned exactly once.
//
// Filters combine with AND: type and user_id by equality, from (inclusive) and to
// (exclusive) on ts, and property equality (PropertyFilter). Everything the caller sends
// is bound as a SQL parameter; nothing from a request is spliced into SQL text.
//
// Cost: events_hot is appended in log order, which is close to ts order, so DuckDB's
// per-row-group min/max of ts (zone maps) line up with time. A search therefore asks
// for its page in time slices walking back from the newest possible ts — 1 hour, then
// ×8 each slice — each a separate statement whose `ts` bounds let DuckDB skip every row
// group outside the slice, and stops as soon as the page is full. A page of the newest
// 100 events reads a row group or two instead of Top-N over the whole table (see
// bench/README.md, "Event search"). A filter that matches few events still reads every
// slice back to the oldest event: its cost is a scan of the columns it filters on. A type
// filter first reads the type's ts range (store/type_ranges.h): the slices then start no
// later than just past its newest event and stop at its oldest, and a type the store does
// not hold reads none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/log.h"
#include "query/event_cursor.h"
#include "query/query_string.h"
#include "store/event_store.h"

namespace sluice {

// `prop.KEY=VALUE`. KEY is a path into `properties`: dots separate nesting levels
// (`prop.address.city=Paris` is properties.address.city); a key that itself contains a
// dot cannot be addressed. VALUE (a query string has no types) matches:
//  - a JSON string whose text is exactly VALUE;
//  - a number or boolean whose JSON text is VALUE (`true`, `19.99`);
//  - when VALUE is a JSON number, also any numerically equal number (`2` matches 2.0);
// JSON null, objects, arrays and missing keys never match (a JSON string whose text looks
// like an object still matches as a string).
struct PropertyFilter {
  std::vector<std::string> path;  // KEY split at dots, each non-empty
  std::string value;
};

struct EventSearchRequest {
  std::string tenant;  // from the caller's key; never from the query string
  std::optional<std::string> type;
  std::optional<std::string> user_id;
  std::optional<int64_t> from_us;  // inclusive, UTC µs
  std::optional<int64_t> to_us;    // exclusive
  std::vector<PropertyFilter> properties;
  int limit = 100;
  std::optional<EventCursor> after;  // the previous page's last event
};

inline constexpr int kDefaultSearchLimit = 100;

// Builds a request from the query parameters of GET /v1/events: type, user_id, from, to
// (RFC 3339 or unix s/ms/µs/ns, ingest/timestamp.h), limit (1..max_limit, default 100),
// cursor, prop.KEY. An empty value is the same as leaving the parameter out. Unknown or
// repeated parameters, bad timestamps, from >= to, a bad limit or cursor are
// InvalidArgument with a message meant for the caller.
Result<EventSearchRequest> ParseEventSearchRequest(std::string tenant, const QueryParams& params,
                                                   int max_limit);

struct EventSearchPage {
  // Each event as a JSON object (SearchEventJson).
  std::vector<std::string> events;
  std::optional<std::string> next_cursor;  // set when more events may follow
  int statements = 0;                      // SQL statements run (time slices)

  // {"events":[...],"next_cursor":"..."|null}
  std::string ToJson() const;
};

// KEY of prop.KEY as a JSON Pointer (RFC 6901): unlike a `$.a.b` path it can say any
// key, since '~' and '/' are escaped.
std::string PropertyJsonPointer(const std::vector<std::string>& path);
// Whether `s` is a JSON number (RFC 8259 §6): a VALUE that also compares numerically.
bool IsJsonNumber(std::string_view s);
// An event of a page as a JSON object: event_id, type, timestamp, received_at (RFC 3339,
// µs, UTC), user_id, anonymous_id (string or null), properties, context (stored JSON or
// null), source. One renderer for stored rows and the log's tail, so both read alike.
std::string SearchEventJson(const EventView& e);

struct EventSearchOptions {
  // Walk back in time slices (see above). false runs one statement over the whole range:
  // the plain Top-N plan, kept for the benchmark's comparison and for tests.
  bool time_slices = true;
  // Where slicing starts when the request has no cursor or `to`; 0 = the wall clock.
  // Events stamped later than this are still found, in the first slice.
  int64_t now_us = 0;
  // The log the store consumer reads, to search its tail too: events acknowledged but not
  // yet committed to DuckDB (log_tail_search.h). nullptr searches stored events only.
  Log* log = nullptr;
  // At most this many bytes of log records are scanned past the store's position.
  uint64_t log_tail_bytes = 256ull << 20;  // [search] log_tail_bytes
};

Result<EventSearchPage> SearchEvents(EventStore& store, const EventSearchRequest& request,
                                     const EventSearchOptions& options = {});

}  // namespace sluice
