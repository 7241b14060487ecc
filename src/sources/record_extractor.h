// Turns one upstream response body into records (SPEC §5): the records array at a JSON
// pointer (or the elements at an XML element path), and in each record its id, timestamp
// and user id, plus the next cursor when the body carries one.
//
// Ids may be strings or integers (decimal text). A record without an id is an error for
// that record only: it cannot be deduplicated, so it is reported, not stored under a made-up
// id. The record itself is kept as minified JSON (XML elements become JSON objects:
// attributes and leaf children as strings, nested children as objects).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json_text.h"  // AppendJsonString
#include "common/status.h"
#include "sources/connector_config.h"

namespace sluice {

struct PulledRecord {
  std::string id;
  std::string timestamp_json;  // the raw JSON value at timestamp_path; empty if none
  std::string user_id;
  std::string json;  // the whole record, minified JSON
  // Set by snapshot sync: event_id gets ":<version>" and the type may differ.
  std::string version;
  std::string type;
};

struct ExtractedPage {
  std::vector<PulledRecord> records;
  std::vector<std::string> errors;  // "record 3: no id at /id"
  std::string next_cursor;          // empty when absent or null
};

// InvalidArgument when the body is not JSON/XML or the records path is missing or not an
// array: the caller treats that like a truncated body and retries.
Status ExtractRecords(std::string_view body, const ConnectorConfig& config, ExtractedPage* out);

// The "next" target of an RFC 8288 Link header, empty if none.
std::string NextFromLinkHeader(std::string_view link);

}  // namespace sluice
