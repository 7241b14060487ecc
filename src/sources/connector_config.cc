// Connector TOML parsing (connector_config.h): every key checked, every error naming the
// file, the key and the problem.
#include "sources/connector_config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstdlib>
#include <set>

namespace sluice {

const char* ConnectorKindName(ConnectorKind k) {
  switch (k) {
    case ConnectorKind::kCursor:
      return "cursor";
    case ConnectorKind::kTimeWindow:
      return "time_window";
    case ConnectorKind::kSnapshot:
      return "snapshot";
  }
  return "?";
}

double DefaultRecheckSeconds(const ConnectorConfig& c) {
  return std::min(std::max(c.safety_lag_seconds, c.poll_interval_seconds), 300.0);
}

namespace {

// "${VAR}" -> getenv("VAR"); an unset variable is an error (an empty token would only
// surface later as a confusing 401).
Status ExpandEnv(const std::string& where, const std::string& key, std::string* s) {
  std::string out;
  for (size_t i = 0; i < s->size();) {
    if (s->compare(i, 2, "${") == 0) {
      size_t end = s->find('}', i);
      if (end == std::string::npos) {
        return Status::InvalidArgument(fmt::format("{}: {} has an unterminated ${{", where, key));
      }
      std::string var = s->substr(i + 2, end - i - 2);
      const char* v = std::getenv(var.c_str());
      if (v == nullptr) {
        return Status::InvalidArgument(
            fmt::format("{}: {} names environment variable {}, which is not set", where, key, var));
      }
      out += v;
      i = end + 1;
    } else {
      out += (*s)[i++];
    }
  }
  *s = std::move(out);
  return Status::OK();
}

class TableReader {
 public:
  TableReader(const toml::table& t, std::string where) : t_(t), where_(std::move(where)) {}

  Status String(const char* key, std::string* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::OK();
    auto v = n->value<std::string>();
    if (!v) return Bad(key, "must be a string");
    *out = *v;
    return Status::OK();
  }
  template <typename T>
  Status Int(const char* key, T* out, int64_t min) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::OK();
    auto v = n->value<int64_t>();
    if (!v || *v < min) return Bad(key, fmt::format("must be an integer >= {}", min));
    *out = static_cast<T>(*v);
    return Status::OK();
  }
  Status Seconds(const char* key, double* out, double min) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::OK();
    auto v = n->value<double>();
    if (!v || *v < min) return Bad(key, fmt::format("must be a number of seconds >= {}", min));
    *out = *v;
    return Status::OK();
  }
  Status Bool(const char* key, bool* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) return Status::OK();
    auto v = n->value<bool>();
    if (!v) return Bad(key, "must be true or false");
    *out = *v;
    return Status::OK();
  }
  const toml::node* Node(const char* key) {
    seen_.insert(key);
    return t_.get(key);
  }
  Status Bad(const std::string& key, const std::string& what) const {
    return Status::InvalidArgument(fmt::format("{}: {} {}", where_, key, what));
  }
  Status CheckUnknown() const {
    for (auto& [k, v] : t_) {
      if (!seen_.count(std::string(k.str())))
        return Bad(std::string(k.str()), "is not a known key");
    }
    return Status::OK();
  }
  const std::string& where() const { return where_; }

 private:
  const toml::table& t_;
  std::string where_;
  std::set<std::string> seen_;
};

Result<ConnectorConfig> ParseTable(const toml::table& t, const std::string& file,
                                   const std::string& where) {
  ConnectorConfig c;
  c.file = file;
  TableReader r(t, where);
  SLUICE_RETURN_IF_ERROR(r.String("name", &c.name));
  if (c.name.empty()) return r.Bad("name", "is required");
  for (char ch : c.name) {
    if (!isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') {
      return r.Bad("name", "may hold only letters, digits, '_', '-' and '.'");
    }
  }
  std::string kind = "cursor";
  SLUICE_RETURN_IF_ERROR(r.String("kind", &kind));
  if (kind == "cursor") {
    c.kind = ConnectorKind::kCursor;
  } else if (kind == "time_window") {
    c.kind = ConnectorKind::kTimeWindow;
  } else if (kind == "snapshot") {
    c.kind = ConnectorKind::kSnapshot;
  } else {
    return r.Bad("kind", "must be cursor, time_window or snapshot, got '" + kind + "'");
  }
  SLUICE_RETURN_IF_ERROR(r.String("tenant", &c.tenant));
  if (c.tenant.empty()) return r.Bad("tenant", "must not be empty");
  SLUICE_RETURN_IF_ERROR(r.String("url", &c.url));
  if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    return r.Bad("url", c.url.empty() ? "is required" : "must start with http:// or https://");
  }
  SLUICE_RETURN_IF_ERROR(ExpandEnv(where, "url", &c.url));
  if (const toml::node* n = r.Node("params")) {
    const toml::table* pt = n->as_table();
    if (pt == nullptr) return r.Bad("params", "must be a table of strings");
    for (auto& [k, v] : *pt) {
      auto s = v.value<std::string>();
      if (!s) return r.Bad("params." + std::string(k.str()), "must be a string");
      std::string value = *s;
      SLUICE_RETURN_IF_ERROR(ExpandEnv(where, "params." + std::string(k.str()), &value));
      c.params.emplace_back(std::string(k.str()), value);
    }
  }
  std::string auth;
  SLUICE_RETURN_IF_ERROR(r.String("auth_header", &auth));
  if (!auth.empty()) {
    if (auth.find(':') == std::string::npos) {
      return r.Bad("auth_header", "must look like \"Name: value\"");
    }
    SLUICE_RETURN_IF_ERROR(ExpandEnv(where, "auth_header", &auth));
    c.headers.push_back(auth);
  }
  SLUICE_RETURN_IF_ERROR(r.String("limit_param", &c.limit_param));
  SLUICE_RETURN_IF_ERROR(r.Int("page_size", &c.page_size, 1));
  SLUICE_RETURN_IF_ERROR(r.String("format", &c.format));
  if (c.format != "json" && c.format != "xml") return r.Bad("format", "must be json or xml");
  if (c.format == "xml" && c.kind != ConnectorKind::kSnapshot) {
    return r.Bad("format", "xml is supported for kind = \"snapshot\" only");
  }
  SLUICE_RETURN_IF_ERROR(r.String("records_path", &c.records_path));
  SLUICE_RETURN_IF_ERROR(r.String("id_path", &c.id_path));
  if (c.id_path.empty()) return r.Bad("id_path", "must not be empty: ids make re-pulls dedupe");
  SLUICE_RETURN_IF_ERROR(r.String("timestamp_path", &c.timestamp_path));
  SLUICE_RETURN_IF_ERROR(r.String("user_id_path", &c.user_id_path));
  if (c.format == "json") {
    for (auto [key, p] :
         {std::pair{"records_path", &c.records_path}, std::pair{"id_path", &c.id_path},
          std::pair{"timestamp_path", &c.timestamp_path},
          std::pair{"user_id_path", &c.user_id_path}}) {
      if (!p->empty() && (*p)[0] != '/') {
        return r.Bad(key, "must be a JSON pointer starting with '/', got '" + *p + "'");
      }
    }
  }
  SLUICE_RETURN_IF_ERROR(r.String("type", &c.type));
  if (c.type.empty()) {
    c.type = c.name + (c.kind == ConnectorKind::kSnapshot ? ".entity" : ".record");
  }
  SLUICE_RETURN_IF_ERROR(r.String("cursor_param", &c.cursor_param));
  SLUICE_RETURN_IF_ERROR(r.String("next_cursor_path", &c.next_cursor_path));
  SLUICE_RETURN_IF_ERROR(r.String("resume_param", &c.resume_param));
  std::string next_from = "body";
  SLUICE_RETURN_IF_ERROR(r.String("next_cursor_from", &next_from));
  if (next_from != "body" && next_from != "link") {
    return r.Bad("next_cursor_from", "must be body or link");
  }
  c.cursor_from_link_header = next_from == "link";
  if (const toml::node* n = r.Node("cursor_expired_status")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return r.Bad("cursor_expired_status", "must be an array of HTTP statuses");
    c.cursor_expired_status.clear();
    for (auto& v : *a) {
      auto i = v.value<int64_t>();
      if (!i || *i < 100 || *i > 599) {
        return r.Bad("cursor_expired_status", "must hold HTTP statuses (100-599)");
      }
      c.cursor_expired_status.push_back(static_cast<int>(*i));
    }
  }
  SLUICE_RETURN_IF_ERROR(r.String("cursor_expired_body", &c.cursor_expired_body));
  SLUICE_RETURN_IF_ERROR(r.String("from_param", &c.from_param));
  SLUICE_RETURN_IF_ERROR(r.String("to_param", &c.to_param));
  SLUICE_RETURN_IF_ERROR(r.String("time_format", &c.time_format));
  if (c.time_format != "rfc3339" && c.time_format != "unix" && c.time_format != "unix_ms") {
    return r.Bad("time_format", "must be rfc3339, unix or unix_ms");
  }
  SLUICE_RETURN_IF_ERROR(r.Seconds("safety_lag_seconds", &c.safety_lag_seconds, 0));
  SLUICE_RETURN_IF_ERROR(r.Seconds("max_window_seconds", &c.max_window_seconds, 0.001));
  const bool recheck_set = t.contains("recheck_seconds");
  SLUICE_RETURN_IF_ERROR(r.Seconds("recheck_seconds", &c.recheck_seconds, 0));
  SLUICE_RETURN_IF_ERROR(r.String("start", &c.start));
  SLUICE_RETURN_IF_ERROR(r.Bool("allow_empty_feed", &c.allow_empty_feed));
  SLUICE_RETURN_IF_ERROR(r.Seconds("poll_interval_seconds", &c.poll_interval_seconds, 0.001));
  if (!recheck_set) c.recheck_seconds = DefaultRecheckSeconds(c);
  SLUICE_RETURN_IF_ERROR(r.Seconds("timeout_seconds", &c.timeout_seconds, 0.001));
  SLUICE_RETURN_IF_ERROR(r.Seconds("requests_per_second", &c.requests_per_second, 0));
  SLUICE_RETURN_IF_ERROR(r.Int("retry_initial_ms", &c.retry_initial_ms, 1));
  SLUICE_RETURN_IF_ERROR(r.Int("retry_max_ms", &c.retry_max_ms, 1));
  SLUICE_RETURN_IF_ERROR(r.Int("max_attempts", &c.max_attempts, 0));
  SLUICE_RETURN_IF_ERROR(r.CheckUnknown());
  return c;
}

Result<toml::table> ParseFile(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
}

}  // namespace

Result<ConnectorConfig> LoadConnectorFile(const std::string& path) {
  auto t = ParseFile(path);
  if (!t.ok()) return t.status();
  return ParseTable(*t, path, path);
}

Result<ConnectorConfig> ParseConnectorToml(const std::string& text, const std::string& file) {
  try {
    toml::table t = toml::parse(text, file);
    return ParseTable(t, file, file);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", file, e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
}

Result<std::vector<ConnectorConfig>> LoadConnectorsFromConfig(const std::string& path) {
  std::vector<ConnectorConfig> out;
  if (path.empty()) return out;
  auto t = ParseFile(path);
  if (!t.ok()) return t.status();
  const toml::node* n = t->get("connector");
  if (n == nullptr) return out;
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables()) {
    return Status::InvalidArgument(path + ": connector must be an array of tables ([[connector]])");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < a->size(); ++i) {
    auto c =
        ParseTable(*a->get(i)->as_table(), path, fmt::format("{}: [[connector]] #{}", path, i + 1));
    if (!c.ok()) return c.status();
    if (!names.insert(c->tenant + "/" + c->name).second) {
      return Status::InvalidArgument(
          fmt::format("{}: [[connector]] #{}: name '{}' is used twice", path, i + 1, c->name));
    }
    out.push_back(std::move(*c));
  }
  return out;
}

}  // namespace sluice
