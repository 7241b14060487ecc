// Any body as NDJSON: every element is either an event or an error, exactly once, in order.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/envelope_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::ParseContext ctx;
  ctx.limits.max_event_bytes = 1024;
  ctx.limits.max_events_per_request = 1000;
  sluice::ParsedBody out;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const sluice::Status st = sluice::ParseBody(body, sluice::BodyFormat::kNdjson, ctx, &out);
  if (!st.ok()) return 0;
  if (out.events.size() + out.errors.size() != out.total) abort();
  if (out.events.size() != out.event_index.size()) abort();
  // Merged, the two index lists must be exactly 0, 1, ..., total-1.
  size_t i = 0, j = 0, next = 0;
  while (i < out.event_index.size() || j < out.errors.size()) {
    const bool take_event = j == out.errors.size() || (i < out.event_index.size() &&
                                                       out.event_index[i] < out.errors[j].index);
    const size_t index = take_event ? out.event_index[i++] : out.errors[j++].index;
    if (index != next++) abort();
  }
  if (next != out.total) abort();
  for (const sluice::EventError& e : out.errors) {
    if (e.error.empty()) abort();
  }
  return 0;
}
