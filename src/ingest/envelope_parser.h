// Where an event enters: a request body becomes normalized Events (SPEC §2, §3.2).
//
// A body is one JSON object, a JSON array of objects, or NDJSON (one object per line;
// blank lines ignored). Each element is validated on its own: an invalid one gets an error
// with its index and the valid ones go on (SPEC §1.3). Aliases: event_id|id|messageId|uuid,
// type|event|name, user_id|userId|distinct_id, anonymous_id|anonymousId. The first alias
// present wins. Unknown top-level fields are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ingest/event.h"

namespace sluice {

struct EnvelopeLimits {
  size_t max_event_bytes = 32 * 1024;  // one event's JSON text
  size_t max_event_id_bytes = 128;
  size_t max_type_bytes = 256;
  size_t max_events_per_request = 100000;
};

enum class BodyFormat { kAuto, kJson, kNdjson };

struct EventError {
  size_t index;
  std::string error;
};

struct ParsedBody {
  std::vector<Event> events;       // the valid ones, in input order
  std::vector<size_t> event_index; // input index of each valid event
  std::vector<EventError> errors;  // one per invalid element
  size_t total = 0;                // elements seen
};

struct ParseContext {
  std::string tenant = "default";
  std::string source = "http";
  int64_t received_at_us = 0;
  EnvelopeLimits limits;
};

// Parses `body`. A non-OK status means the body as a whole is unusable (not JSON at all,
// a top-level scalar, too many events); per-element problems land in out->errors.
// kAuto: '[' or '{' starting a single document → JSON, otherwise NDJSON.
Status ParseBody(std::string_view body, BodyFormat format, const ParseContext& ctx,
                 ParsedBody* out);

}  // namespace sluice
