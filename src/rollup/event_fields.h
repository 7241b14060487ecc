// EventFields: the values a metric reads from one event — dimension text and numeric
// property — named the way MetricSpec names them (common/metric_spec.h).
//
// The properties JSON is parsed at most once per event, and only when some metric asks
// for a property, so a batch that only feeds `events` (count by type) parses nothing.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// One event as rollups see it; views into the caller's storage (a decoded log event or a
// DuckDB chunk during backfill).
struct EventRow {
  std::string_view tenant;
  std::string_view type;
  int64_t ts_us = 0;
  std::string_view user_id;
  std::string_view anonymous_id;
  std::string_view properties;  // minified JSON object, may be empty
  std::string_view source;
};

class EventFields {
 public:
  EventFields(simdjson::dom::parser* parser, const EventRow& row) : parser_(parser), row_(row) {}

  // The dimension value of `field`: strings as they are, numbers and booleans as JSON
  // text, objects and arrays minified; "" when missing or null.
  std::string Text(std::string_view field);
  // The same into *out, reusing its capacity (the hot path of AddEvent).
  void TextInto(std::string_view field, std::string* out);
  // The property at `field` if it is a JSON number.
  std::optional<double> Number(std::string_view field);
  // What `unique` counts by default: user_id, else anonymous_id ("" when neither).
  std::string_view User() const { return row_.user_id.empty() ? row_.anonymous_id : row_.user_id; }

 private:
  // The property element at a dotted path; false when absent or properties are invalid.
  bool Find(std::string_view path, simdjson::dom::element* out);

  simdjson::dom::parser* parser_;
  const EventRow& row_;
  bool parsed_ = false;
  bool valid_ = false;
  simdjson::dom::element root_;
};

}  // namespace sluice
