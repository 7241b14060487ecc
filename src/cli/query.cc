// `sluice query "SQL" [--format table|json|csv] [--url URL]` (SPEC §3.1): read-only SQL
// over the `events` view (query/sql_query.h). Offline it opens the data dir, applies any
// log records the store has not taken yet (so just-imported events show) and runs the
// query itself; with --url it POSTs to /v1/query. Errors are one line on stderr, exit 1.
#include <curl/curl.h>
#include <simdjson.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "query/sql_query.h"
#include "server/engine.h"

namespace sluice {

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice query: %s\n", message.c_str());
  return 1;
}

size_t Collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
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
  std::string url = flags.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/query";

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* c = curl_easy_init();
  std::string body;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return Fail(url + ": " + curl_easy_strerror(rc));
  if (code != 200) {
    simdjson::dom::parser parser;
    std::string_view error;
    if (parser.parse(body).get_object()["error"].get(error) == simdjson::SUCCESS) {
      return Fail(std::string(error));
    }
    return Fail("server answered " + std::to_string(code));
  }
  PrintOutput(body);
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
