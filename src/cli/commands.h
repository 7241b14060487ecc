// The subcommands of SPEC §3.1, one function each (one file each under cli/).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace sluice {

struct CommonFlags {
  std::string config_path;
  std::string data_dir;
  std::string listen;
  std::string api_key;  // --key, for commands that talk to a server with --url
};

struct ImportFlags {
  std::vector<std::string> files;
  std::string url;
  size_t batch_bytes = 4u << 20;
  bool no_progress = false;
};

struct ExportIdsFlags {
  std::string tenant;
  std::string url;
};

struct TierFlags {
  std::string step;              // archive | compact | retention | rehydrate
  std::string from, to, tenant;  // rehydrate
  std::string url;
};

struct QueryFlags {
  std::string sql;
  std::string format = "table";
  std::string url;
  std::string tenant;  // offline only; empty = "default"
};

struct MetricsFlags {
  std::string name;
  std::string from, to, granularity, group_by, filter, tz;
  std::string format = "table";
  std::string url;
  std::string tenant;  // offline only; empty = "default"
};

struct BenchFlags {
  std::string url = "http://127.0.0.1:8080";
  std::string api_key;  // sent as a Bearer token when set
  int connections = 8;
  int batch = 500;
  int event_bytes = 230;
  int extra_properties = 0;  // p0..pN-1 added to each event's properties
  double duration_s = 10;
  uint64_t max_events = 0;
  double rate = 0;
  double duplicate_ratio = 0;
  std::string ids_out;
  std::string format = "ndjson";
  std::string run_id;
  std::string write_ndjson;
  bool json_output = false;
};

struct PullFlags {
  std::string connector_file;
  bool once = false;
  bool no_progress = false;
};

struct CheckpointFlags {
  std::string action;     // show | set
  std::string connector;  // a name or a CONNECTOR.toml
  std::string value;      // set
  std::string tenant = "default";
  std::string url;
};

int RunServe(const Config& config);
int RunPull(const Config& config, const PullFlags& flags);
int RunCheckpoint(const Config& config, const CheckpointFlags& flags);
int RunImport(const Config& config, const ImportFlags& flags);
int RunExportIds(const Config& config, const ExportIdsFlags& flags);
int RunQuery(const Config& config, const QueryFlags& flags);
int RunBench(const BenchFlags& flags);
int RunMetrics(const Config& config, const MetricsFlags& flags);
int RunTier(const Config& config, const TierFlags& flags);

}  // namespace sluice
