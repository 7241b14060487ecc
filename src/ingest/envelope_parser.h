// Where an event enters: a request body becomes normalized Events (SPEC §2, §3.2).
//
// A body is one JSON object, a JSON array of objects, or NDJSON (one object per line;
// blank lines ignored). Each element is validated on its own: an invalid one gets an error
// with its index and the valid ones go on (SPEC §1.3). Aliases: event_id|id|messageId|uuid,
// type|event|name, user_id|userId|distinct_id, anonymous_id|anonymousId. The first alias
// present in that order wins, whatever the order in the object; a null field counts as
// absent. Unknown top-level fields are ignored.
//
// Leniencies (some APIs send these; Segment never does): an integer event_id becomes its
// decimal text (other non-strings are errors); a numeric user_id/anonymous_id becomes its
// decimal text. properties and context are stored minified; numbers in them are
// re-serialized (1.50 -> 1.5, integers beyond 64 bits lose precision).
//
// Error messages are short and name the field as the client sent it, e.g. `"type" is
// required`, `"timestamp": month 13 out of range in "..."`, `"properties" must be an
// object`, `event is 40000 bytes, limit is 32768` (an event's size is its JSON text,
// surrounding whitespace excluded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ingest/event.h"
#include "ingest/json_schema.h"

namespace sluice {

struct EnvelopeLimits {
  size_t max_event_bytes = 32 * 1024;  // one event's JSON text
  size_t max_event_id_bytes = 128;
  size_t max_type_bytes = 256;
  size_t max_events_per_request = 100000;
};

enum class BodyFormat { kAuto, kJson, kNdjson };

struct EventError {
  size_t index;  // element index; in NDJSON blank lines are not elements
  std::string error;
};

// A well-formed event that its type's schema refused (SPEC §7): it goes, with its error,
// to the tenant's dead-letter table instead of the events.
struct RejectedEvent {
  Event event;
  std::string error;
  int schema_version = 0;
};

struct ParsedBody {
  std::vector<Event> events;            // the valid ones, in input order
  std::vector<size_t> event_index;      // input index of each valid event
  std::vector<EventError> errors;       // one per invalid element
  std::vector<RejectedEvent> rejected;  // schema failures (also in errors)
  size_t total = 0;                     // elements seen
};

struct ParseContext {
  std::string tenant = "default";
  std::string source = "http";
  int64_t received_at_us = 0;
  EnvelopeLimits limits;
  // The tenant's schemas by event type; an event whose type has one must match it.
  const SchemaMap* schemas = nullptr;
};

// Parses `body` into `out` (cleared first). A non-OK status means the body as a whole is
// unusable: InvalidArgument for an empty body, invalid JSON in a JSON body or a top-level
// scalar; ResourceExhausted for more than max_events_per_request elements. Per-element
// problems (including an NDJSON line that is not JSON) land in out->errors.
// kAuto: a body that starts with '[', is a single line, or starts with '{' and whose first
// line is not a complete JSON value on its own is one JSON document; otherwise NDJSON.
// A leading UTF-8 byte order mark is skipped.
//
// `body` needs no simdjson padding: it is copied once into a thread-local padded buffer
// (cheaper than a parse, and callers cannot get it wrong), unless the caller says that at
// least kBodyPadding bytes past its end may be read (`readable_after`; their content does
// not matter, nothing is written): then it is parsed where it lies. The thread-local
// simdjson parsers keep the capacity of the largest body the thread has parsed. The events
// already in `out` are overwritten in place (their strings keep their buffers), so a caller
// that reuses one ParsedBody per thread parses without a heap allocation per event.
Status ParseBody(std::string_view body, BodyFormat format, const ParseContext& ctx, ParsedBody* out,
                 size_t readable_after = 0);

// What simdjson may read past the end of a JSON text (SIMDJSON_PADDING). A std::string body
// with this much spare capacity can be passed with readable_after = capacity() - size().
inline constexpr size_t kBodyPadding = 64;

// A caller that keeps a ParsedBody for reuse should let go of its events when it holds more
// than this, rather than hold them until its next parse.
inline constexpr size_t kMaxRecycledEvents = 4096;

}  // namespace sluice
