// Any body: ParseBody must not crash, must account for every element, and every event it
// accepts must survive the log codec unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/envelope_parser.h"
#include "ingest/event_codec.h"

namespace {

bool SameEvent(const sluice::Event& a, const sluice::Event& b) {
  return a.tenant == b.tenant && a.event_id == b.event_id && a.id_assigned == b.id_assigned &&
         a.type == b.type && a.ts_us == b.ts_us && a.received_at_us == b.received_at_us &&
         a.user_id == b.user_id && a.anonymous_id == b.anonymous_id &&
         a.properties == b.properties && a.context == b.context && a.source == b.source;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::ParseContext ctx;
  ctx.received_at_us = 1714566896000000;
  ctx.limits.max_event_bytes = 4096;  // small, so the size checks are reached
  ctx.limits.max_events_per_request = 1000;
  sluice::ParsedBody out;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const sluice::Status st = sluice::ParseBody(body, sluice::BodyFormat::kAuto, ctx, &out);
  if (!st.ok()) {
    if (!out.events.empty() || !out.errors.empty()) abort();
    return 0;
  }
  if (out.events.size() + out.errors.size() != out.total) abort();
  if (out.events.size() != out.event_index.size()) abort();

  sluice::EventBatchWriter writer;
  for (const sluice::Event& e : out.events) writer.Add(e);
  const std::string payload = writer.Finish();
  sluice::EventBatchReader reader(payload);
  if (reader.count() != out.events.size()) abort();
  sluice::Event got;
  sluice::Status rst;
  size_t n = 0;
  while (reader.Next(&got, &rst)) {
    if (n >= out.events.size() || !SameEvent(got, out.events[n])) abort();
    ++n;
  }
  if (!rst.ok() || n != out.events.size()) abort();

  // The reader on the raw input: any outcome but a crash is fine.
  sluice::EventBatchReader raw(body);
  while (raw.Next(&got, &rst)) {
  }
  return 0;
}
