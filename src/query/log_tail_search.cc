// Event search over the log's tail (log_tail_search.h): a scan of the records the store
// has not committed, with the filters of event_search.h evaluated in C++.
#include "query/log_tail_search.h"

#include <simdjson.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>

#include "ingest/connector_batch.h"
#include "ingest/event_codec.h"

namespace sluice {

namespace {

// A match kept for the page: views into `payload`, a copy of its record's events that the
// candidate keeps alive (records whose matches all lose their place are freed).
struct Candidate {
  EventView event;
  std::shared_ptr<const std::string> payload;
};

bool Before(const EventView& a, const EventView& b) {
  return SortsBefore(a.ts_us, a.event_id, b.ts_us, b.event_id);
}

// The heap's top is the worst candidate kept, the one a better match displaces.
struct WorstOnTop {
  bool operator()(const Candidate& a, const Candidate& b) const { return Before(a.event, b.event); }
};
using KeptMatches = std::priority_queue<Candidate, std::vector<Candidate>, WorstOnTop>;

bool Matches(const EventView& e, const EventSearchRequest& r) {
  if (e.tenant != r.tenant) return false;
  if (r.type && e.type != *r.type) return false;
  if (r.user_id && e.user_id != *r.user_id) return false;
  if (r.from_us && e.ts_us < *r.from_us) return false;
  if (r.to_us && e.ts_us >= *r.to_us) return false;
  if (r.after && !SortsBefore(r.after->ts_us, r.after->event_id, e.ts_us, e.event_id)) {
    return false;  // not strictly after the cursor
  }
  for (const PropertyFilter& f : r.properties) {
    if (!PropertyMatches(e.properties, f)) return false;
  }
  return true;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return memmem(haystack.data(), haystack.size(), needle.data(), needle.size()) != nullptr;
}

// Whether a record's events (`payload`) can hold a match. An event's tenant, type and
// user_id are verbatim bytes of its record (EventBatchReader's views point into it), so a
// record without one of the requested values anywhere has none: it is skipped undecoded.
// A search for a rare type or one user then reads the tail at memmem's speed, several
// times faster than decoding every event (bench/README.md, session 21).
bool MayHoldMatch(std::string_view payload, const EventSearchRequest& r) {
  if (r.type && !Contains(payload, *r.type)) return false;
  if (r.user_id && !Contains(payload, *r.user_id)) return false;
  return Contains(payload, r.tenant);
}

// `v`'s views moved from pointing into `from` to the same bytes in `to`.
std::string_view Rebase(std::string_view v, const char* from, const char* to) {
  return v.empty() ? v : std::string_view(to + (v.data() - from), v.size());
}

EventView Rebased(const EventView& e, const char* from, const char* to) {
  EventView out = e;
  for (auto field : {&EventView::tenant, &EventView::event_id, &EventView::type,
                     &EventView::user_id, &EventView::anonymous_id, &EventView::properties,
                     &EventView::context, &EventView::source}) {
    out.*field = Rebase(e.*field, from, to);
  }
  return out;
}

// Adds the matches of one event or connector record to `kept`, the best `want` so far.
// `matches` is scratch space.
Status ScanRecord(const LogRecord& rec, ConsumerPosition from, const EventSearchRequest& request,
                  size_t want, KeptMatches* kept, std::vector<EventView>* matches) {
  std::string_view events = rec.payload;
  if (rec.type == RecordType::kConnectorBatch) {
    ConnectorCheckpoint header;
    SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &header, &events));
  }
  if (!MayHoldMatch(events, request)) return Status::OK();
  // The first events of the record the store stopped inside of are in the snapshot.
  const uint64_t skip = rec.offset == from.log_offset ? from.rows_applied : 0;
  EventBatchReader batch(events);
  EventView e;
  Status bst;
  uint64_t index = 0;
  matches->clear();
  while (batch.Next(&e, &bst)) {
    if (index++ < skip) continue;
    if (kept->size() == want && !Before(e, kept->top().event)) continue;  // cannot place
    if (Matches(e, request)) matches->push_back(e);
  }
  if (!bst.ok()) {
    return Status::Corruption("log record at offset " + std::to_string(rec.offset) + ": " +
                              bst.ToString());
  }
  if (matches->empty()) return Status::OK();
  // The reader's payload lives until its next call: the candidates keep a copy.
  auto copy = std::make_shared<const std::string>(events);
  for (const EventView& m : *matches) {
    if (kept->size() == want) {
      if (!Before(m, kept->top().event)) continue;
      kept->pop();
    }
    kept->push(Candidate{Rebased(m, events.data(), copy->data()), copy});
  }
  return Status::OK();
}

}  // namespace

bool PropertyMatches(std::string_view properties, const PropertyFilter& filter) {
  if (properties.empty()) return false;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; the stored text has no such
  // guarantee inside a log record, so it is copied into a padded buffer.
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string buffer;
  buffer.assign(properties);
  buffer.resize(properties.size() + simdjson::SIMDJSON_PADDING, '\0');
  simdjson::padded_string_view json(buffer.data(), properties.size(), buffer.size());
  simdjson::ondemand::document doc;
  if (parser.iterate(json).get(doc)) return false;
  simdjson::ondemand::value v;
  if (doc.at_pointer(PropertyJsonPointer(filter.path)).get(v)) return false;
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case simdjson::ondemand::json_type::string: {
      std::string_view s;
      return !v.get_string().get(s) && s == filter.value;
    }
    case simdjson::ondemand::json_type::number: {
      // json_extract_string gives a number's text, which is itself a JSON number, so a
      // VALUE that is not one never equals it; one that is compares numerically.
      if (!IsJsonNumber(filter.value)) return false;
      const std::string raw(v.raw_json_token());  // strtod stops at trailing blanks
      return std::strtod(raw.c_str(), nullptr) == std::strtod(filter.value.c_str(), nullptr);
    }
    case simdjson::ondemand::json_type::boolean: {
      bool b = false;
      return !v.get_bool().get(b) && filter.value == (b ? "true" : "false");
    }
    case simdjson::ondemand::json_type::object:
    case simdjson::ondemand::json_type::array:
    case simdjson::ondemand::json_type::null:
      return false;
  }
  return false;
}

Result<TailScan> SearchLogTail(Log& log, ConsumerPosition from, const EventSearchRequest& request,
                               size_t want, uint64_t max_bytes, bool from_start_if_collected) {
  TailScan scan;
  if (want == 0 || max_bytes == 0) return scan;
  // A store ahead of the log (its tail lost, or a replaced log) has nothing to add.
  if (from.log_offset >= log.durable_offset()) return scan;
  if (from.log_offset < log.start_offset()) {
    // Usually the store committed past `from` after the caller's snapshot and the log
    // collected the segment: the events in between are in neither, so the caller must
    // search a newer snapshot. A fresh store, or one the log really is ahead of (the
    // store consumer resumes at the start then, loudly), starts at the start.
    if (!from_start_if_collected) {
      return Status::NotFound("log offset " + std::to_string(from.log_offset) +
                              " was collected after the search's snapshot");
    }
    from = {log.start_offset(), 0};
  }
  std::unique_ptr<LogReader> reader = log.NewReader(from.log_offset);
  uint64_t bytes_scanned = 0;  // of records
  KeptMatches kept;
  std::vector<EventView> matches;  // of the current record
  LogRecord rec;
  Status st;
  while (reader->Next(&rec, &st)) {
    bytes_scanned += rec.end_offset - rec.offset;
    if (rec.type == RecordType::kEventBatch || rec.type == RecordType::kConnectorBatch) {
      SLUICE_RETURN_IF_ERROR(ScanRecord(rec, from, request, want, &kept, &matches));
    }
    if (bytes_scanned >= max_bytes) {
      scan.truncated = reader->position() < log.durable_offset();
      break;
    }
  }
  if (!st.ok()) return st;
  scan.events.resize(kept.size());
  for (size_t i = kept.size(); i-- > 0;) {
    const Candidate& c = kept.top();
    scan.events[i] = TailEvent{EventCursor{c.event.ts_us, std::string(c.event.event_id)},
                               SearchEventJson(c.event)};
    kept.pop();
  }
  return scan;
}

}  // namespace sluice
