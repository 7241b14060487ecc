// `sluice metrics NAME [--from --to --granularity --group-by --filter --tz] [--format
// table|json|csv] [--url URL]` (SPEC §3.1): a metric's series from the rollups. Offline it
// opens the data dir, brings the store and the rollups up to date with the log (and
// finishes any backfill: Engine::DrainToStore) and answers itself; with --url it asks
// GET /v1/metrics/{name}.
// Errors are one line on stderr, exit 1.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "rollup/metric_reader.h"
#include "rollup/rollup_consumer.h"
#include "server/engine.h"

namespace sluice {

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice metrics: %s\n", message.c_str());
  return 1;
}

void Print(const std::string& body) {
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
}

QueryParams Params(const MetricsFlags& f) {
  QueryParams p;
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) p.emplace_back(k, v);
  };
  add("from", f.from);
  add("to", f.to);
  add("granularity", f.granularity);
  add("group_by", f.group_by);
  add("filter", f.filter);
  add("tz", f.tz);
  return p;
}

int OverHttp(const MetricsFlags& flags) {
  std::string path = "/v1/metrics/" + UrlEscape(flags.name) + "?format=" + flags.format;
  for (const auto& [k, v] : Params(flags)) path += "&" + k + "=" + UrlEscape(v);
  ServerReply reply = CallServer("GET", flags.url, path);
  if (!reply.ok()) return Fail(reply.error);
  Print(reply.body);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int RunMetrics(const Config& config, const MetricsFlags& flags) {
  auto format = ParseSqlFormat(flags.format);
  if (!format.ok()) return Fail(format.status().message());
  if (!flags.url.empty()) {
    if (!flags.tenant.empty()) {
      return Fail(
          "--tenant works on the data dir only; a server takes the tenant from the API key");
    }
    return OverHttp(flags);
  }
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) return Fail(engine.status().message());
  Status s = (*engine)->DrainToStore();
  if (s.ok() && ((*engine)->store() == nullptr || !config.rollup_enabled)) {
    s = Status::InvalidArgument("metrics need [store] enabled and [rollup] enabled");
  }
  if (!s.ok()) return Fail(s.message());
  std::string out;
  {
    // DrainToStore applied the log to the rollups; this one only serves definitions.
    RollupConsumer rollups((*engine)->log(), (*engine)->store(), RollupOptionsFromConfig(config));
    s = rollups.RunUntilCaughtUp();
    if (!s.ok()) return Fail(s.message());
    MetricReader reader((*engine)->store(), &rollups, config.metrics_max_points, 0);
    auto answer =
        reader.Query(flags.tenant.empty() ? "default" : flags.tenant, flags.name, Params(flags));
    if (!answer.ok()) return Fail(answer.status().message());
    out = *format == SqlFormat::kJson ? answer->result->ToJson()
                                      : FormatSqlResult(answer->result->ToTable(), *format);
  }
  s = (*engine)->Close();
  if (!s.ok()) return Fail(s.message());
  Print(out);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace sluice
