// `sluice query "SQL" [--format table|json|csv] [--url URL]` (SPEC §3.1): read-only SQL
// over the `events` view (query/sql_query.h). Offline it opens the data dir, applies any
// log records the store has not taken yet (so just-imported events show) and runs the
// query itself; with --url it POSTs to /v1/query. Errors are one line on stderr, exit 1.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "query/sql_query.h"
#include "server/engine.h"

namespace sluice {

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice query: %s\n", message.c_str());
  return 1;
}

void PrintOutput(const std::string& body) {
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
}

int QueryOverHttp(const QueryFlags& flags) {
  std::string request = "{\"sql\":";
  AppendJsonString(&request, flags.sql);
  request += ",\"format\":";
  AppendJsonString(&request, flags.format);
  request += "}";
  ServerReply reply = CallServer("POST", flags.url, "/v1/query", request);
  if (!reply.ok()) return Fail(reply.error);
  PrintOutput(reply.body);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int RunQuery(const Config& config, const QueryFlags& flags) {
  auto format = ParseSqlFormat(flags.format);
  if (!format.ok()) return Fail(format.status().message());
  if (!flags.url.empty()) {
    if (!flags.tenant.empty()) {
      return Fail(
          "--tenant works on the data dir only; a server takes the tenant from the API key");
    }
    return QueryOverHttp(flags);
  }
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) return Fail(engine.status().message());
  Status s = (*engine)->DrainToStore();
  if (s.ok() && (*engine)->store() == nullptr) {
    s = Status::InvalidArgument("the store is disabled in the configuration ([store] enabled)");
  }
  if (!s.ok()) return Fail(s.message());
  SqlQueryLimits limits;
  limits.timeout_ms = config.query_timeout_ms;
  limits.max_rows = config.query_max_rows;
  limits.memory_limit_bytes = config.store_memory_limit_bytes;
  auto result = RunSqlQuery(*(*engine)->store(), flags.tenant.empty() ? "default" : flags.tenant,
                            flags.sql, limits);
  s = (*engine)->Close();
  if (!result.ok()) return Fail(result.status().message());
  if (!s.ok()) return Fail(s.message());
  PrintOutput(FormatSqlResult(*result, *format));
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace sluice
