#include "cli/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "cli/tenancy_commands.h"
#include "common/config.h"

namespace sluice {

namespace {

// Applies --config then the flags that override it.
Result<Config> ResolveConfig(const CommonFlags& f) {
  auto c = LoadConfig(f.config_path);
  if (!c.ok()) return c.status();
  if (!f.data_dir.empty()) c->data_dir = f.data_dir;
  if (!f.listen.empty()) c->listen = f.listen;
  return c;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"sluice: event ingestion and analytics in one binary"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  CommonFlags flags;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--config", flags.config_path, "TOML configuration file");
    sub->add_option("--data-dir", flags.data_dir, "data directory (default ./data)");
    sub->add_option("--key", flags.api_key, "API key for --url (default $SLUICE_API_KEY)");
  };

  auto* serve = app.add_subcommand("serve", "run ingest, storage and queries over HTTP");
  add_common(serve);
  serve->add_option("--listen", flags.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");

  ImportFlags imp;
  auto* import =
      app.add_subcommand("import", "import NDJSON, JSON-array or Parquet files ('-' = stdin)");
  add_common(import);
  import->add_option("files", imp.files, "files to import")->required();
  import->add_option("--url", imp.url, "send to a running server instead of the data dir");
  import->add_option("--batch", imp.batch_bytes, "bytes per batch (default 4 MiB)");
  import->add_flag("--no-progress", imp.no_progress, "never draw a progress bar");

  ExportIdsFlags exp;
  auto* export_ids = app.add_subcommand("export-ids", "print every stored event_id, one per line");
  add_common(export_ids);
  export_ids->add_option("--tenant", exp.tenant, "only this tenant");
  export_ids->add_option("--url", exp.url, "ask a running server instead of the data dir");

  TierFlags tier;
  std::vector<CLI::App*> tier_cmds;
  for (auto [name, help] :
       {std::pair{"archive", "write closed hours to Parquet now"},
        std::pair{"compact", "merge each archived hour's files into one"},
        std::pair{"retention",
                  "move hours past hot_days to the archive, delete those past "
                  "retention_days"},
        std::pair{"rehydrate", "load archived hours back into the hot store"}}) {
    auto* sub = app.add_subcommand(name, help);
    add_common(sub);
    sub->add_option("--url", tier.url, "ask a running server instead of the data dir");
    if (std::string(name) == "rehydrate") {
      sub->add_option("--from", tier.from, "first hour (RFC 3339 or unix time)")->required();
      sub->add_option("--to", tier.to, "end of the range, exclusive")->required();
      sub->add_option("--tenant", tier.tenant, "only this tenant");
    }
    tier_cmds.push_back(sub);
  }

  QueryFlags query;
  auto* query_cmd =
      app.add_subcommand("query", "run read-only SQL over the events view (hot and archive)");
  add_common(query_cmd);
  query_cmd->add_option("sql", query.sql, "one SELECT statement over `events`")->required();
  query_cmd->add_option("--format", query.format, "table|json|csv (table)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  query_cmd->add_option("--url", query.url, "ask a running server instead of the data dir");
  query_cmd->add_option("--tenant", query.tenant, "tenant to query on the data dir (default)");

  TenancyCommands tenancy;
  tenancy.Register(app, add_common);
  MetricsFlags metrics;
  auto* metrics_cmd = app.add_subcommand("metrics", "a metric's time series from the rollups");
  add_common(metrics_cmd);
  metrics_cmd->add_option("name", metrics.name, "metric name (events, unique_users, ...)")
      ->required();
  metrics_cmd->add_option("--from", metrics.from,
                          "start (RFC 3339 or unix time; default to - 24h)");
  metrics_cmd->add_option("--to", metrics.to, "end, exclusive (default now)");
  metrics_cmd->add_option("--granularity", metrics.granularity, "1m|5m|1h|1d (1h)");
  metrics_cmd->add_option("--group-by", metrics.group_by, "dimensions, comma-separated");
  metrics_cmd->add_option("--filter", metrics.filter, "dimension:value[,dimension:value]");
  metrics_cmd->add_option("--tz", metrics.tz, "UTC offset for day boundaries, e.g. -08:00");
  metrics_cmd->add_option("--format", metrics.format, "table|json|csv (table)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  metrics_cmd->add_option("--url", metrics.url, "ask a running server instead of the data dir");
  metrics_cmd->add_option("--tenant", metrics.tenant, "tenant on the data dir (default)");
  PullFlags pull;
  auto* pull_cmd = app.add_subcommand("pull", "run one pull connector in the foreground");
  add_common(pull_cmd);
  pull_cmd->add_option("connector", pull.connector_file, "CONNECTOR.toml")->required();
  pull_cmd->add_flag("--once", pull.once, "stop once upstream has nothing more");
  pull_cmd->add_flag("--no-progress", pull.no_progress, "never draw a progress line");

  CheckpointFlags checkpoint;
  auto* checkpoint_cmd =
      app.add_subcommand("checkpoint", "show or move a pull connector's checkpoint (replay)");
  add_common(checkpoint_cmd);
  checkpoint_cmd->add_option("action", checkpoint.action, "show | set")
      ->required()
      ->check(CLI::IsMember({"show", "set"}));
  checkpoint_cmd->add_option("connector", checkpoint.connector, "name or CONNECTOR.toml");
  checkpoint_cmd->add_option("value", checkpoint.value, "the new checkpoint (set)");
  checkpoint_cmd->add_option("--tenant", checkpoint.tenant, "tenant of a named connector");
  checkpoint_cmd->add_option("--url", checkpoint.url, "a running server instead of the data dir");

  BenchFlags bench;
  auto* bench_cmd = app.add_subcommand("bench", "load generator: POST events to a server");
  bench_cmd->add_option("--url", bench.url, "server URL (default http://127.0.0.1:8080)");
  bench_cmd->add_option("--key", bench.api_key, "API key (write role) to send");
  bench_cmd->add_option("--connections,-c", bench.connections, "keep-alive connections (8)");
  bench_cmd->add_option("--batch,-b", bench.batch, "events per request (500)");
  bench_cmd->add_option("--event-bytes", bench.event_bytes, "approximate bytes per event (230)");
  bench_cmd->add_option("--extra-properties", bench.extra_properties,
                        "add p0..pN-1 (int, string, ...) to each event's properties (0)");
  bench_cmd->add_option("--duration,-d", bench.duration_s, "seconds to run (10)");
  bench_cmd->add_option("--events", bench.max_events, "stop after this many events (0 = no cap)");
  bench_cmd->add_option("--rate", bench.rate, "requests/s across all connections (0 = max)");
  bench_cmd->add_option("--duplicates", bench.duplicate_ratio,
                        "fraction of events that repeat an earlier id (0..1)");
  bench_cmd->add_option("--ids-out", bench.ids_out,
                        "append ids of acknowledged events to this file (crash tests)");
  bench_cmd->add_option("--format", bench.format, "ndjson|json (ndjson)");
  bench_cmd->add_option("--run-id", bench.run_id, "prefix of generated ids (random)");
  bench_cmd->add_option("--write-ndjson", bench.write_ndjson,
                        "write the events to this NDJSON file instead of sending them");
  bench_cmd->add_flag("--json", bench.json_output, "print the result as one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Logs go to stderr: stdout belongs to command output (export-ids, query results).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sluice"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // Offline commands print their own summary; their start-up chatter is noise.
  if (!serve->parsed()) spdlog::set_level(spdlog::level::warn);
  if (bench_cmd->parsed()) return RunBench(bench);

  SetCliApiKey(flags.api_key);
  auto config = ResolveConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "sluice: %s\n", config.status().message().c_str());
    return 2;
  }
  if (serve->parsed()) return RunServe(*config);
  if (import->parsed()) return RunImport(*config, imp);
  if (export_ids->parsed()) return RunExportIds(*config, exp);
  for (auto* sub : tier_cmds) {
    if (sub->parsed()) {
      tier.step = sub->get_name();
      return RunTier(*config, tier);
    }
  }
  if (query_cmd->parsed()) return RunQuery(*config, query);
  if (tenancy.parsed()) return tenancy.Run(*config);
  if (metrics_cmd->parsed()) return RunMetrics(*config, metrics);
  if (pull_cmd->parsed()) return RunPull(*config, pull);
  if (checkpoint_cmd->parsed()) return RunCheckpoint(*config, checkpoint);
  return 1;
}

}  // namespace sluice
