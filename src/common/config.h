// The one TOML configuration file of SPEC §3.3. Every option has a default, so `sluice
// serve` with no file works; a bad file fails with the file, the key and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/metric_spec.h"
#include "common/status.h"

namespace sluice {

struct Config {
  // The file it was loaded from ("" for defaults); sources/ reads its [[connector]] tables.
  std::string path;
  // [server]
  std::string listen = "127.0.0.1:8080";
  int io_threads = 2;
  // [storage]
  std::string data_dir = "./data";
  // [ingest]
  uint64_t max_event_bytes = 32 * 1024;
  uint64_t max_request_bytes = 5ull << 20;     // after decompression
  uint64_t max_inflight_bytes = 256ull << 20;  // request bodies held in memory at once
  // [log]
  uint64_t segment_bytes = 128ull << 20;
  uint64_t max_unconsumed_bytes = 8ull << 30;    // 503 past this much log not yet consumed
  uint64_t min_free_disk_bytes = 1ull << 30;     // 503 when the data dir's disk has less
  bool log_direct_io = true;                     // O_DIRECT segment writes (log/segment_writer.h)
  uint64_t log_tail_cache_bytes = 128ull << 20;  // newest records in memory (log/tail_cache.h)
  // [dedupe]
  uint64_t dedupe_capacity_slots = 1ull << 24;  // 256 MiB, remembers >= 11.7M ids
  int dedupe_snapshot_seconds = 60;
  // [store]
  bool store_enabled = true;
  // DuckDB worker threads, 0 = DuckDB's default (all cores) except while the store is
  // saturated, when the store consumer narrows them to one (store/store_consumer.h); a
  // number > 0 is kept as it is.
  int store_threads = 0;
  int store_batch_ms = 200;
  uint64_t store_batch_events = 245760;  // two DuckDB row groups (store_consumer.h)
  // DuckDB's buffer-pool limit (bytes) shared by the store, archiving and queries; 0 =
  // DuckDB's default (80% of RAM). Queries that need more fail cleanly instead of growing.
  uint64_t store_memory_limit_bytes = 0;
  // WAL bytes that trigger a checkpoint (store/event_store.h says why not DuckDB's 16 MiB).
  uint64_t store_checkpoint_bytes = 128ull << 20;
  // Acks wait while the oldest durable event the store has not taken is older than this
  // (server/ack_pacer.h), at most store_max_ack_delay_ms each; 0 = never wait. Bounds how far
  // SQL trails ingest and how much log a search reads past the store (SPEC §1.7). Two row
  // groups (store_batch_events) take ~0.4 s to fill and as long to commit at full rate, so
  // the bound sits above that sum: under it, acks are held only when the store falls behind.
  int store_max_lag_ms = 1000;
  int store_max_ack_delay_ms = 2000;
  // Keep a copy of the hot days sorted by user, for GET /v1/events?user_id= (SPEC §3.2;
  // store/user_projection.h): about doubles the hot tier on disk. Needs [archive] enabled,
  // whose scheduled pass builds it.
  bool store_user_projection = true;

  // Tiers (SPEC §4): an hour is written to Parquet once it is `archive_lateness_minutes`
  // past its end; it stays in the hot table for `hot_days`, then lives only in the archive,
  // which keeps it for `retention_days` (0 = forever).
  bool archive_enabled = true;
  int archive_lateness_minutes = 60;
  int archive_interval_seconds = 60;
  int hot_days = 7;
  int retention_days = 30;

  // POST /v1/query and `sluice query`.
  int query_timeout_ms = 30000;
  uint64_t query_max_rows = 100000;
  // GET /v1/events.
  int search_max_limit = 1000;
  // Log bytes past the store's position that a search also reads, so an acknowledged
  // event is found before DuckDB commits it (query/log_tail_search.h); 0 = stored only.
  uint64_t search_log_tail_bytes = 256ull << 20;

  // [auth] Tenants and keys live in the data dir (tenants.json; `sluice keys`). /metrics
  // needs an operator key once keys exist, unless it is made public here (it carries no
  // tenant names or per-tenant figures).
  bool public_metrics = false;
  // How often stored bytes per tenant are measured for max_stored_bytes quotas (only
  // while some tenant has one).
  int usage_interval_seconds = 10;
  // [server] TLS: both set = HTTPS only (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // [rollup] and [[metrics]] (SPEC §6): metrics kept current by the rollup consumer.
  bool rollup_enabled = true;
  int rollup_batch_ms = 250;            // bounds metric freshness (SPEC §1.7)
  uint64_t metrics_max_points = 10000;  // buckets per GET /v1/metrics answer
  uint64_t metrics_cache_entries = 1024;
  std::vector<MetricSpec> metrics;  // besides the built-ins
};

// Loads `path` over the defaults. An empty path returns the defaults.
Result<Config> LoadConfig(const std::string& path);

// Parses "host:port" (port 0 = ephemeral).
Status ParseListen(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace sluice
