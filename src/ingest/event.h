// One normalized event: the envelope of SPEC §2 after aliases, timestamp normalization and
// limits, plus what the server adds (tenant, received_at, source).
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

struct Event {
  std::string tenant;
  std::string event_id;      // client's id, or a server-assigned UUIDv7
  bool id_assigned = false;  // true when the server made event_id up (no dedupe needed)
  std::string type;
  int64_t ts_us = 0;           // UTC microseconds
  int64_t received_at_us = 0;  // UTC microseconds
  std::string user_id;
  std::string anonymous_id;
  std::string properties = "{}";  // minified JSON object
  std::string context;            // minified JSON object, empty if absent
  std::string source;             // "http", "import", a connector name, ...
  // Set by the store consumer: offset of the log record that carried the event (0 for
  // rows that did not come from the log, e.g. rehydrated ones). Archiving uses it as a
  // watermark: which rows of an hour are newer than its Parquet files.
  uint64_t log_offset = 0;
};

}  // namespace sluice
