// The declarative description of one pull connector (SPEC §5): everything that differs
// between upstream APIs lives here, so a new API is a TOML file, not code.
//
// A connector is either a whole file (`sluice pull CONNECTOR.toml`: top-level keys) or one
// `[[connector]]` table of serve's config file. Errors name the file, the key and what is
// wrong, e.g. `orders.toml: [connector "orders"] page_size must be an integer >= 1`.
// "${VAR}" in url, headers and params is replaced by the environment variable VAR, so
// tokens stay out of the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice {

enum class ConnectorKind { kCursor, kTimeWindow, kSnapshot };
const char* ConnectorKindName(ConnectorKind k);

struct ConnectorConfig {
  std::string file;  // where it was defined, for messages
  std::string name;  // [A-Za-z0-9_.-]+; part of every event_id it makes
  ConnectorKind kind = ConnectorKind::kCursor;
  std::string tenant = "default";

  // The request: url + params + limit; headers as "Name: value".
  std::string url;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::string> headers;
  std::string limit_param = "limit";
  int page_size = 100;

  // The response (JSON pointers; "" is the whole document). For XML, records_path is an
  // element path like "feed/item" and id/timestamp paths name a child element or "@attr".
  std::string format = "json";  // json | xml
  std::string records_path;
  std::string id_path = "/id";
  std::string timestamp_path;  // empty: the time it was pulled
  std::string type;            // event type; default "<name>.record" ("<name>.entity")
  std::string user_id_path;

  // Cursor stream.
  std::string cursor_param = "cursor";
  std::string next_cursor_path = "/next_cursor";
  // When set, an expired cursor resumes with `resume_param=<id of the newest record
  // stored>` (Stripe's starting_after, many APIs' after_id) instead of from the start;
  // the checkpoint then carries that id too ("cursor<TAB>id").
  std::string resume_param;
  bool cursor_from_link_header = false;  // next_cursor_from = "link"
  std::vector<int> cursor_expired_status = {400, 404, 410};
  // Case-insensitive substring of the body; empty = any of "expired", "unknown cursor",
  // "invalid cursor" (what Stripe-, Slack- and GitHub-like APIs say).
  std::string cursor_expired_body;

  // Time window.
  std::string from_param = "from";
  std::string to_param = "to";
  std::string time_format = "rfc3339";  // rfc3339 | unix | unix_ms
  double safety_lag_seconds = 60;
  double max_window_seconds = 3600;
  // Re-read this much behind the checkpoint each poll, so that a too small safety_lag
  // shows as late_records instead of staying invisible. Unset in TOML it is
  // DefaultRecheckSeconds(); 0 turns it off.
  double recheck_seconds = 0;
  std::string start;  // first lower bound (RFC 3339 / unix); default: one day ago

  // Snapshot: a feed that lists no entity at all would mark every entity stale; that is
  // far more often an upstream outage than the truth, so it is an error unless allowed.
  bool allow_empty_feed = false;

  // Timing and upstream manners.
  double poll_interval_seconds = 10;
  double timeout_seconds = 30;
  double requests_per_second = 0;  // budget when upstream sends no rate-limit headers; 0 = none
  int retry_initial_ms = 200;
  int retry_max_ms = 30000;
  int max_attempts = 0;  // per request; 0 = retry until stopped
};

// The recheck a time window gets when recheck_seconds is not set: its safety lag (late
// records are most often late by a little more than that), at least one poll interval
// and at most 5 minutes, since every poll re-reads it.
double DefaultRecheckSeconds(const ConnectorConfig& c);

// One connector from a file of top-level keys.
Result<ConnectorConfig> LoadConnectorFile(const std::string& path);
// Every [[connector]] of serve's config file (none when the path is empty).
Result<std::vector<ConnectorConfig>> LoadConnectorsFromConfig(const std::string& path);
// One connector from TOML text of top-level keys; `file` names it in messages.
Result<ConnectorConfig> ParseConnectorToml(const std::string& text, const std::string& file);

}  // namespace sluice
