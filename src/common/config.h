// The one TOML configuration file of SPEC §3.3. Every option has a default, so `sluice
// serve` with no file works; a bad file fails with the file, the key and what is wrong.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace sluice {

struct Config {
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
  uint64_t max_unconsumed_bytes = 8ull << 30;  // 503 past this much log not yet consumed
  uint64_t min_free_disk_bytes = 1ull << 30;   // 503 when the data dir's disk has less
  // [dedupe]
  uint64_t dedupe_capacity_slots = 1ull << 24;  // 256 MiB, remembers >= 11.7M ids
  int dedupe_snapshot_seconds = 60;
  // [store]
  bool store_enabled = true;
  int store_threads = 0;  // DuckDB worker threads, 0 = DuckDB's default (all cores)
  int store_batch_ms = 200;
  uint64_t store_batch_events = 100000;
};

// Loads `path` over the defaults. An empty path returns the defaults.
Result<Config> LoadConfig(const std::string& path);

// Parses "host:port" (port 0 = ephemeral).
Status ParseListen(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace sluice
