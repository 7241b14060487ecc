#include "common/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include "common/metric_config.h"

namespace sluice {
namespace {

// Reads an integer key if present; the error names the file and the key.
template <typename T>
Status ReadInt(const toml::table& t, const std::string& file, const char* section, const char* key,
               T* out, int64_t min_value) {
  const toml::node* n = t.at_path(std::string(section) + "." + key).node();
  if (n == nullptr) return Status::OK();
  auto v = n->value<int64_t>();
  if (!v) {
    return Status::InvalidArgument(
        fmt::format("{}: [{}] {} must be an integer", file, section, key));
  }
  if (*v < min_value) {
    return Status::InvalidArgument(
        fmt::format("{}: [{}] {} must be >= {}, got {}", file, section, key, min_value, *v));
  }
  *out = static_cast<T>(*v);
  return Status::OK();
}

Status ReadString(const toml::table& t, const std::string& file, const char* section,
                  const char* key, std::string* out) {
  const toml::node* n = t.at_path(std::string(section) + "." + key).node();
  if (n == nullptr) return Status::OK();
  auto v = n->value<std::string>();
  if (!v) {
    return Status::InvalidArgument(fmt::format("{}: [{}] {} must be a string", file, section, key));
  }
  *out = *v;
  return Status::OK();
}

Status ReadBool(const toml::table& t, const std::string& file, const char* section, const char* key,
                bool* out) {
  const toml::node* n = t.at_path(std::string(section) + "." + key).node();
  if (n == nullptr) return Status::OK();
  // is_boolean(), not value<bool>(): toml++ converts the integer 1 to true there, and a
  // `direct_io = 1` should be named as the mistake it is.
  if (!n->is_boolean()) {
    return Status::InvalidArgument(
        fmt::format("{}: [{}] {} must be true or false", file, section, key));
  }
  *out = n->as_boolean()->get();
  return Status::OK();
}

}  // namespace

Result<Config> LoadConfig(const std::string& path) {
  Config c;
  if (path.empty()) return c;
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                               e.source().begin.column, e.description()));
  }
  const std::string& f = path;
  SLUICE_RETURN_IF_ERROR(ReadString(t, f, "server", "listen", &c.listen));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "server", "io_threads", &c.io_threads, 1));
  SLUICE_RETURN_IF_ERROR(ReadString(t, f, "storage", "data_dir", &c.data_dir));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "ingest", "max_event_bytes", &c.max_event_bytes, 256));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "ingest", "max_request_bytes", &c.max_request_bytes, 1024));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "ingest", "max_inflight_bytes", &c.max_inflight_bytes, 1 << 20));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "log", "segment_bytes", &c.segment_bytes, 1 << 16));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "log", "max_unconsumed_bytes", &c.max_unconsumed_bytes, 1 << 20));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "log", "min_free_disk_bytes", &c.min_free_disk_bytes, 0));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "log", "direct_io", &c.log_direct_io));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "log", "tail_cache_bytes", &c.log_tail_cache_bytes, 0));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "dedupe", "capacity_slots", &c.dedupe_capacity_slots, 1024));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "dedupe", "snapshot_seconds", &c.dedupe_snapshot_seconds, 1));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "store", "enabled", &c.store_enabled));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "store", "batch_ms", &c.store_batch_ms, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "store", "threads", &c.store_threads, 0));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "store", "batch_events", &c.store_batch_events, 1));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "store", "memory_limit_bytes", &c.store_memory_limit_bytes, 0));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "store", "checkpoint_bytes", &c.store_checkpoint_bytes, 1 << 20));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "store", "max_lag_ms", &c.store_max_lag_ms, 0));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "store", "max_ack_delay_ms", &c.store_max_ack_delay_ms, 0));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "store", "user_projection", &c.store_user_projection));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "archive", "enabled", &c.archive_enabled));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "archive", "lateness_minutes", &c.archive_lateness_minutes, 0));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "archive", "interval_seconds", &c.archive_interval_seconds, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "archive", "hot_days", &c.hot_days, 0));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "archive", "retention_days", &c.retention_days, 0));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "query", "timeout_ms", &c.query_timeout_ms, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "query", "max_rows", &c.query_max_rows, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "search", "max_limit", &c.search_max_limit, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "search", "log_tail_bytes", &c.search_log_tail_bytes, 0));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "auth", "public_metrics", &c.public_metrics));
  SLUICE_RETURN_IF_ERROR(
      ReadInt(t, f, "auth", "usage_interval_seconds", &c.usage_interval_seconds, 1));
  SLUICE_RETURN_IF_ERROR(ReadString(t, f, "server", "tls_cert_file", &c.tls_cert_file));
  SLUICE_RETURN_IF_ERROR(ReadString(t, f, "server", "tls_key_file", &c.tls_key_file));
  SLUICE_RETURN_IF_ERROR(ReadBool(t, f, "rollup", "enabled", &c.rollup_enabled));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "rollup", "batch_ms", &c.rollup_batch_ms, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "rollup", "max_points", &c.metrics_max_points, 1));
  SLUICE_RETURN_IF_ERROR(ReadInt(t, f, "rollup", "cache_entries", &c.metrics_cache_entries, 0));
  if (const toml::node* m = t.get("metrics")) {
    SLUICE_RETURN_IF_ERROR(ParseMetricTables(*m, f, &c.metrics));
  }
  // Unknown keys are mistakes worth naming (a typo silently ignored is a config bug).
  static const char* known[][2] = {{"server", "listen"},
                                   {"server", "io_threads"},
                                   {"storage", "data_dir"},
                                   {"ingest", "max_event_bytes"},
                                   {"ingest", "max_request_bytes"},
                                   {"ingest", "max_inflight_bytes"},
                                   {"log", "segment_bytes"},
                                   {"log", "max_unconsumed_bytes"},
                                   {"log", "min_free_disk_bytes"},
                                   {"log", "direct_io"},
                                   {"log", "tail_cache_bytes"},
                                   {"dedupe", "capacity_slots"},
                                   {"dedupe", "snapshot_seconds"},
                                   {"store", "enabled"},
                                   {"store", "batch_ms"},
                                   {"store", "batch_events"},
                                   {"store", "threads"},
                                   {"store", "memory_limit_bytes"},
                                   {"store", "checkpoint_bytes"},
                                   {"store", "max_lag_ms"},
                                   {"store", "max_ack_delay_ms"},
                                   {"store", "user_projection"},
                                   {"archive", "enabled"},
                                   {"archive", "lateness_minutes"},
                                   {"archive", "interval_seconds"},
                                   {"archive", "hot_days"},
                                   {"archive", "retention_days"},
                                   {"query", "timeout_ms"},
                                   {"query", "max_rows"},
                                   {"search", "max_limit"},
                                   {"search", "log_tail_bytes"},
                                   {"auth", "public_metrics"},
                                   {"auth", "usage_interval_seconds"},
                                   {"server", "tls_cert_file"},
                                   {"server", "tls_key_file"},
                                   {"rollup", "enabled"},
                                   {"rollup", "batch_ms"},
                                   {"rollup", "max_points"},
                                   {"rollup", "cache_entries"}};
  c.path = path;
  for (auto& [section, node] : t) {
    if (section.str() == "metrics") continue;  // [[metrics]], parsed above
    // [[connector]] tables belong to pull connectors (sources/connector_config.h), which
    // check them when serve starts.
    if (section.str() == "connector") continue;
    const toml::table* st = node.as_table();
    if (st == nullptr) {
      return Status::InvalidArgument(
          fmt::format("{}: unknown top-level key '{}'", f, std::string(section.str())));
    }
    for (auto& [key, v] : *st) {
      bool ok = false;
      for (auto& k : known) ok |= (section.str() == k[0] && key.str() == k[1]);
      if (!ok) {
        return Status::InvalidArgument(fmt::format(
            "{}: unknown key [{}] {}", f, std::string(section.str()), std::string(key.str())));
      }
    }
  }
  SLUICE_RETURN_IF_ERROR([&] {
    std::string h;
    uint16_t p;
    return ParseListen(c.listen, &h, &p);
  }());
  return c;
}

Status ParseListen(const std::string& listen, std::string* host, uint16_t* port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("listen address must be HOST:PORT, got '" + listen + "'");
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  const std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    return Status::InvalidArgument("listen port must be 0-65535, got '" + p + "'");
  }
  *port = static_cast<uint16_t>(std::stoi(p));
  return Status::OK();
}

}  // namespace sluice
