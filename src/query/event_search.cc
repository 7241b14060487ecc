// Event search (event_search.h): request parsing, the time-sliced keyset query, and the
// page as JSON.
#include "query/event_search.h"

#include "query/column_reader.h"
#include "query/log_tail_search.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>
#include <variant>

#include "common/clock.h"
#include "ingest/timestamp.h"
#include "store/type_ranges.h"
#include "store/user_key.h"

namespace sluice {

namespace {

constexpr const char* kKnownParams = "type, user_id, from, to, limit, cursor, prop.KEY";
constexpr size_t kMaxPropertyFilters = 16;
constexpr int64_t kHourUs = 3600LL * 1000000;
// The first time slice, and how much wider each next one is. An hour holds a page of
// anything but rare events at modest rates; ×8 keeps the number of statements small
// (an hour reaches a century in 8 slices) while wasting little on an over-wide slice.
constexpr int64_t kFirstSliceUs = kHourUs;
constexpr int64_t kSliceGrowth = 8;
// Once a slice has found matches, the next one is sized from their density instead: twice
// the width the rest of the page should need, never less than this, never more than ×8.
// A fixed ×8 made the second slice of `type=purchase&prop.country=DE` (90 matches in the
// first hour, 11 still wanted) scan 8 hours where 15 minutes sufficed: 18.5 vs 4.2 ms.
constexpr int64_t kMinSliceUs = 60LL * 1000000;
// DuckDB rewrites `ORDER BY ... LIMIT n` with n <= late_materialization_max_rows (50) into
// a Top-N over row ids and a second scan that fetches the winners' columns. With a
// selective filter that second scan re-reads every matched row group: a slice wanting 11
// rows took 11.6 ms that way against 4.2 ms in one pass. Asking for at least 51 rows keeps
// the single pass; rows past the ones wanted are dropped.
constexpr size_t kMinTopN = 51;
constexpr int64_t kMinMicros = -62135596800LL * 1000000;  // 0001-01-01, the oldest ts

Status BadParam(std::string message) { return Status::InvalidArgument(std::move(message)); }

// A parameter name for an error message: bounded and printable.
std::string Shown(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (name.size() > 64) out += "...";
  return out;
}

void AppendJsonString(std::string_view s, std::string* out) {
  sluice::AppendJsonString(out, s);  // common/json_text.h: the one JSON string escaper
}

// A SQL parameter value, bound in order as $1, $2, ...
struct TimestampParam {
  int64_t micros;
};
using Param = std::variant<std::string, TimestampParam, double>;

// The WHERE clause shared by every slice: filters and cursor, all as parameters.
struct Predicate {
  std::string sql = "true";
  std::vector<Param> params;

  std::string Add(Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  }
};

Predicate FilterPredicate(const EventSearchRequest& r) {
  Predicate p;
  if (r.type) p.sql += " AND type = " + p.Add(*r.type);
  if (r.user_id) p.sql += " AND user_id = " + p.Add(*r.user_id);
  for (const PropertyFilter& f : r.properties) {
    const std::string ptr = p.Add(PropertyJsonPointer(f.path));
    std::string cond = "json_extract_string(properties, " + ptr + ") = " + p.Add(f.value);
    if (!f.value.empty() && (f.value[0] == '{' || f.value[0] == '[')) {
      // json_extract_string gives an object or array as DuckDB re-serializes it, which no
      // other reader reproduces byte for byte (log_tail_search.h): they never match. Only
      // such a VALUE could equal that text, so only it pays for the type check.
      cond = "(" + cond + " AND json_type(properties, " + ptr + ") = 'VARCHAR')";
    }
    if (IsJsonNumber(f.value)) {
      cond = "(" + cond + " OR (json_type(properties, " + ptr +
             ") IN ('UBIGINT', 'BIGINT', 'DOUBLE') AND TRY_CAST(json_extract_string(properties, " +
             ptr + ") AS DOUBLE) = " + p.Add(std::strtod(f.value.c_str(), nullptr)) + "))";
    }
    p.sql += " AND " + cond;
  }
  if (r.after) {
    // The explicit `ts <=` is implied by the OR, but DuckDB only turns plain comparisons
    // into scan filters that skip row groups by their ts range.
    const std::string ts = p.Add(TimestampParam{r.after->ts_us});
    p.sql += " AND ts <= " + ts + " AND (ts < " + ts + " OR event_id < " +
             p.Add(r.after->event_id) + ")";
  }
  return p;
}

Status Bind(duck::PreparedStatement& stmt, const std::vector<Param>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const idx_t index = i + 1;
    const Param& p = params[i];
    if (const auto* s = std::get_if<std::string>(&p)) {
      SLUICE_RETURN_IF_ERROR(stmt.BindVarchar(index, *s));
    } else if (const auto* t = std::get_if<TimestampParam>(&p)) {
      SLUICE_RETURN_IF_ERROR(stmt.BindTimestampMicros(index, t->micros));
    } else {
      SLUICE_RETURN_IF_ERROR(stmt.BindDouble(index, std::get<double>(p)));
    }
  }
  return Status::OK();
}

// The columns of a stored row that a page shows (RowView).
constexpr const char* kSelect =
    "SELECT event_id, type, ts, received_at, user_id, anonymous_id, properties, context, source";

int64_t Micros(duckdb_vector v, idx_t row) {
  return static_cast<const duckdb_timestamp*>(duckdb_vector_get_data(v))[row].micros;
}

// A NULL cell as an empty view: the store writes every empty optional field as NULL
// (event_store.cc), so the two mean the same, as in EventView.
std::string_view OptionalString(duckdb_vector v, idx_t row) {
  return duck::IsValid(v, row) ? duck::GetString(v, row) : std::string_view();
}

// One stored row (columns as in kSelect) as the event it holds.
EventView RowView(const duck::DataChunk& chunk, idx_t row) {
  EventView e;
  e.event_id = duck::GetString(chunk.column(0), row);
  e.type = duck::GetString(chunk.column(1), row);
  e.ts_us = Micros(chunk.column(2), row);
  e.received_at_us = Micros(chunk.column(3), row);
  e.user_id = OptionalString(chunk.column(4), row);
  e.anonymous_id = OptionalString(chunk.column(5), row);
  e.properties = OptionalString(chunk.column(6), row);
  e.context = OptionalString(chunk.column(7), row);
  e.source = OptionalString(chunk.column(8), row);
  return e;
}

void AppendOptional(std::string_view s, std::string* out) {
  if (s.empty()) {
    *out += "null";
  } else {
    AppendJsonString(s, out);
  }
}

// The page being filled, with each event's position for the cursor.
struct PageRows {
  EventSearchPage page;
  std::vector<EventCursor> keys;
};

// Runs one statement for ts in [lo, hi) (either side open when unset) on top of the
// request's predicate, appending up to `want` events to `rows`. `narrow` first finds the
// oldest ts the page can reach (a second statement; worth it where the slice is dense).
Status RunSlice(duck::Connection& con, const std::string& view_sql, const Predicate& base,
                std::optional<int64_t> lo, std::optional<int64_t> hi, size_t want, bool narrow,
                PageRows* rows) {
  EventSearchPage* page = &rows->page;
  Predicate p = base;
  if (lo) p.sql += " AND ts >= " + p.Add(TimestampParam{*lo});
  if (hi) p.sql += " AND ts < " + p.Add(TimestampParam{*hi});
  if (narrow) {
    // Top-N keeps every row it reads in a heap ordered by (ts, event_id) and, since rows
    // arrive in ascending ts, nearly every row displaces one: at ~30k rows a slice that
    // cost 10-20 ms. Finding the page's oldest ts first with a Top-N on ts alone (an
    // integer key, no payload) and then reading only rows at or after it is ~3x cheaper.
    // Rows tied at that ts are all kept by `>=`; the final ORDER BY picks among them.
    auto stmt = con.Prepare("SELECT count(*)::UBIGINT, epoch_us(min(ts)) FROM (SELECT ts FROM (" +
                            view_sql + ") AS e WHERE " + p.sql + " ORDER BY ts DESC LIMIT " +
                            std::to_string(want) + ")");
    if (!stmt.ok()) return stmt.status();
    SLUICE_RETURN_IF_ERROR(Bind(*stmt, p.params));
    auto result = stmt->Execute();
    if (!result.ok()) return result.status();
    ++page->statements;
    Status st;
    duck::DataChunk chunk = result->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk || chunk.size() != 1) return Status::Internal("search: no boundary row");
    const uint64_t n = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(0)))[0];
    if (n == 0) return Status::OK();  // nothing in this slice
    if (n == want) {
      const int64_t oldest =
          static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(1)))[0];
      p.sql += " AND ts >= " + p.Add(TimestampParam{oldest});
    }
  }
  const std::string sql = std::string(kSelect) + " FROM (" + view_sql + ") AS e WHERE " + p.sql +
                          " ORDER BY ts DESC, event_id DESC LIMIT " +
                          std::to_string(std::max(want, kMinTopN));
  auto stmt = con.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(Bind(*stmt, p.params));
  auto result = stmt->Execute();
  if (!result.ok()) return result.status();
  ++page->statements;
  const size_t first = page->events.size();
  while (true) {
    Status st;
    duck::DataChunk chunk = result->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) return Status::OK();
    for (idx_t row = 0; row < chunk.size() && page->events.size() < first + want; ++row) {
      const EventView e = RowView(chunk, row);
      page->events.push_back(SearchEventJson(e));
      rows->keys.push_back(EventCursor{e.ts_us, std::string(e.event_id)});
    }
  }
}

// Merges the tail's best matches into the page: both lists are in search order and each
// holds the best `want` of its part, so the best `want` of the two are the page's.
void MergeTail(std::vector<TailEvent> tail, PageRows* rows, size_t want) {
  PageRows merged;
  merged.page.statements = rows->page.statements;
  size_t a = 0, b = 0;
  const auto& stored = rows->keys;
  while (merged.page.events.size() < want && (a < stored.size() || b < tail.size())) {
    bool take_tail = a == stored.size();
    if (!take_tail && b < tail.size()) {
      take_tail =
          SortsBefore(tail[b].key.ts_us, tail[b].key.event_id, stored[a].ts_us, stored[a].event_id);
    }
    if (take_tail) {
      merged.page.events.push_back(std::move(tail[b].json));
      merged.keys.push_back(std::move(tail[b].key));
      ++b;
    } else {
      merged.page.events.push_back(std::move(rows->page.events[a]));
      merged.keys.push_back(std::move(rows->keys[a]));
      ++a;
    }
  }
  *rows = std::move(merged);
}

}  // namespace

bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// DuckDB's json functions accept JSON Pointers.
std::string PropertyJsonPointer(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& seg : path) {
    out.push_back('/');
    for (char c : seg) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string SearchEventJson(const EventView& e) {
  std::string out = "{\"event_id\":";
  AppendJsonString(e.event_id, &out);
  out += ",\"type\":";
  AppendJsonString(e.type, &out);
  out += ",\"timestamp\":\"" + FormatRfc3339Micros(e.ts_us);
  out += "\",\"received_at\":\"" + FormatRfc3339Micros(e.received_at_us);
  out += "\",\"user_id\":";
  AppendOptional(e.user_id, &out);
  out += ",\"anonymous_id\":";
  AppendOptional(e.anonymous_id, &out);
  out += ",\"properties\":";
  out += e.properties.empty() ? std::string_view("null") : e.properties;  // stored JSON
  out += ",\"context\":";
  out += e.context.empty() ? std::string_view("null") : e.context;
  out += ",\"source\":";
  AppendOptional(e.source, &out);
  out += "}";
  return out;
}

Result<EventSearchRequest> ParseEventSearchRequest(std::string tenant, const QueryParams& params,
                                                   int max_limit) {
  EventSearchRequest r;
  r.tenant = std::move(tenant);
  r.limit = std::min(kDefaultSearchLimit, max_limit);
  std::set<std::string> seen;
  for (const auto& [name, value] : params) {
    if (!seen.insert(name).second) {
      return BadParam("parameter \"" + Shown(name) + "\" is given more than once");
    }
    const bool known = name == "type" || name == "user_id" || name == "from" || name == "to" ||
                       name == "limit" || name == "cursor" || name.rfind("prop.", 0) == 0;
    if (!known) {
      return BadParam("unknown parameter \"" + Shown(name) + "\"; known: " + kKnownParams);
    }
    if (value.empty()) continue;  // `type=&user_id=`: a form left blank
    if (name == "type") {
      r.type = value;
    } else if (name == "user_id") {
      r.user_id = value;
    } else if (name == "from" || name == "to") {
      auto ts = ParseTimestampString(value);
      if (!ts.ok()) return BadParam(name + ": " + ts.status().message());
      (name == "from" ? r.from_us : r.to_us) = *ts;
    } else if (name == "limit") {
      int n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > max_limit) {
        return BadParam("limit must be an integer from 1 to " + std::to_string(max_limit));
      }
      r.limit = n;
    } else if (name == "cursor") {
      auto c = DecodeEventCursor(value);
      if (!c.ok()) return c.status();
      r.after = std::move(*c);
    } else {  // prop.KEY
      PropertyFilter f;
      std::string_view key = std::string_view(name).substr(5);
      while (true) {
        const size_t dot = key.find('.');
        f.path.emplace_back(key.substr(0, dot));
        if (f.path.back().empty()) {
          return BadParam("\"" + Shown(name) +
                          "\": a property filter is prop.KEY or prop.KEY.NESTED, with no "
                          "empty key");
        }
        if (dot == std::string_view::npos) break;
        key.remove_prefix(dot + 1);
      }
      f.value = value;
      r.properties.push_back(std::move(f));
      if (r.properties.size() > kMaxPropertyFilters) {
        return BadParam("at most " + std::to_string(kMaxPropertyFilters) +
                        " property filters per search");
      }
    }
  }
  if (r.from_us && r.to_us && *r.from_us >= *r.to_us) {
    return BadParam("from must be earlier than to (from is inclusive, to exclusive)");
  }
  return r;
}

std::string EventSearchPage::ToJson() const {
  size_t n = 64;
  for (const auto& e : events) n += e.size() + 1;
  std::string out;
  out.reserve(n);
  out += "{\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += events[i];
  }
  out += "],\"next_cursor\":";
  if (next_cursor) {
    out += "\"" + *next_cursor + "\"";  // base64url: nothing to escape
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

Result<EventSearchPage> SearchEvents(EventStore& store, const EventSearchRequest& request,
                                     const EventSearchOptions& options) {
  // An empty tenant means "all tenants" to WithEventsView; a search never wants that.
  if (request.tenant.empty()) return Status::InvalidArgument("search: no tenant");
  if (request.limit < 1) return Status::InvalidArgument("search: limit must be positive");
  const Predicate base = FilterPredicate(request);
  // One more than the page, to know whether a next page exists without another query.
  const size_t want = static_cast<size_t>(request.limit) + 1;
  PageRows rows;
  const EventSearchPage& page = rows.page;
  std::optional<TailScan> tail;
  bool tail_failed = false;  // the log could not be read from the snapshot's position
  bool last_attempt = false;
  auto run = [&](duck::Connection& con, const std::string& view_sql) -> Status {
    if (options.log != nullptr) {
      // In this transaction's snapshot: the rows below the position are in view_sql,
      // the events from it on are read from the log (log_tail_search.h).
      auto position = StoreConsumerPosition(con);
      if (!position.ok()) return position.status();
      auto scan = SearchLogTail(*options.log, position->value_or(ConsumerPosition{}), request, want,
                                options.log_tail_bytes, !position->has_value() || last_attempt);
      if (!scan.ok()) {
        tail_failed = true;
        return scan.status();
      }
      tail = std::move(*scan);
    }
    // The store's part is bounded by the type's ts range, read in this snapshot
    // (store/type_ranges.h): a type the store does not hold costs no scan at all, and a
    // rare one only its own span of time.
    std::optional<int64_t> from_us = request.from_us;
    std::optional<int64_t> to_us = request.to_us;
    if (request.type) {
      auto lookup = TypeRangeOn(con, request.tenant, *request.type);
      if (!lookup.ok()) return lookup.status();
      if (lookup->known && !lookup->range) return Status::OK();
      if (lookup->range) {
        const TypeRange r = *lookup->range;
        from_us = std::max(from_us.value_or(INT64_MIN), r.min_us);
        to_us =
            std::min(to_us.value_or(INT64_MAX), r.max_us == INT64_MAX ? r.max_us : r.max_us + 1);
        if (*from_us >= *to_us) return Status::OK();
      }
    }
    // A stored row older than the tail's want-th match cannot make the page, since `want`
    // tail events sort before it. Under load the tail holds the newest events of a busy
    // type, and this bound lets the ts zone maps skip all but the newest row groups.
    // Inclusive: a stored row at that very ts may still sort first by its event_id.
    if (tail && tail->events.size() >= want) {
      from_us = std::max(from_us.value_or(INT64_MIN), tail->events[want - 1].key.ts_us);
      if (to_us && *from_us >= *to_us) return Status::OK();
    }
    // A user's events are sparse in every slice, and user_key makes one pass over the
    // whole hot table cheap: slices would only add statements (7.7 on average).
    if (!options.time_slices || request.user_id) {
      return RunSlice(con, view_sql, base, from_us, to_us, want,
                      /*narrow=*/false, &rows);
    }
    // Slices walk back from `anchor`: [anchor - w, hi), then w×8 below that, ...
    // The first slice has no upper bound of its own (only `to` and the cursor), so
    // events stamped in the future are found too.
    int64_t anchor = options.now_us != 0 ? options.now_us : NowMicros();
    if (to_us) anchor = std::min(anchor, *to_us);
    if (request.after) anchor = std::min(anchor, request.after->ts_us);
    std::optional<int64_t> hi = to_us;
    int64_t width = kFirstSliceUs;
    while (page.events.size() < want) {
      std::optional<int64_t> lo;
      bool final_slice = false;
      if (anchor - kMinMicros <= width) {
        final_slice = true;  // reaches year 1: nothing older exists
      } else {
        lo = anchor - width;
      }
      if (from_us && (!lo || *lo <= *from_us)) {
        lo = from_us;
        final_slice = true;
      }
      // Only the first slice is narrowed: it is where a page usually fills, and it is
      // small, so when it holds few matches reading it twice costs little. A later,
      // wider slice is reached when matches are sparse, and a second pass would
      // double the scan that dominates then.
      SLUICE_RETURN_IF_ERROR(RunSlice(con, view_sql, base, lo, hi, want - page.events.size(),
                                      /*narrow=*/page.statements == 0, &rows));
      if (final_slice) break;
      hi = lo;
      // `width` is how far back from the anchor the slices have reached.
      const int64_t grown = width > INT64_MAX / kSliceGrowth ? INT64_MAX : width * kSliceGrowth;
      const size_t found = page.events.size();
      const double extra =
          found == 0 ? 0.0
                     : 2.0 * static_cast<double>(width) * static_cast<double>(want - found) / found;
      width = found == 0 || static_cast<double>(width) + extra >= static_cast<double>(grown)
                  ? grown
                  : width + std::max(kMinSliceUs, static_cast<int64_t>(extra));
    }
    return Status::OK();
  };
  // A user's events: the hot rows are found by their integer user_key first (user_key.h);
  // the outer `user_id = ?` still decides, so a colliding key only costs a row read. The
  // complete days come from the user projection, sorted by user (store/user_projection.h).
  Status s;
  for (int attempt = 0;; ++attempt) {
    rows = PageRows{};
    tail.reset();
    tail_failed = false;
    last_attempt = attempt == 2;
    s = request.user_id
            ? store.WithUserEventsView(
                  request.tenant, "user_key = " + std::to_string(UserKey(*request.user_id)), run)
            : store.WithEventsView(request.tenant, run);
    // A segment collected after the snapshot's position was read: a newer snapshot holds
    // its rows (log_tail_search.h).
    if (s.ok() || !tail_failed || attempt == 2) break;
  }
  if (!s.ok()) return s;
  if (tail && !tail->events.empty()) MergeTail(std::move(tail->events), &rows, want);
  if (rows.page.events.size() > static_cast<size_t>(request.limit)) {
    rows.page.events.resize(request.limit);
    rows.page.next_cursor = EncodeEventCursor(rows.keys[request.limit - 1]);
  }
  return std::move(rows.page);
}

}  // namespace sluice
