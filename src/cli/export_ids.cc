// `sluice export-ids`: every stored event_id, once, one per line, in constant memory.
// Offline: opens the data dir, applies any log records the store has not taken yet, then
// streams ids out of DuckDB chunk by chunk. With --url: GET /v1/admin/event-ids.
#include <curl/curl.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "server/engine.h"

namespace sluice {

namespace {

size_t WriteOut(char* p, size_t size, size_t n, void* status) {
  long code = 0;
  curl_easy_getinfo(static_cast<CURL*>(status), CURLINFO_RESPONSE_CODE, &code);
  // An error body goes to stderr; ids go to stdout.
  std::fwrite(p, size, n, code == 200 ? stdout : stderr);
  return size * n;
}

int ExportIdsOverHttp(const ExportIdsFlags& flags) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* c = curl_easy_init();
  std::string url = flags.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/admin/event-ids";
  if (!flags.tenant.empty()) {
    char* t = curl_easy_escape(c, flags.tenant.c_str(), static_cast<int>(flags.tenant.size()));
    url += std::string("?tenant=") + t;
    curl_free(t);
  }
  curl_slist* headers = AppendAuthHeader(nullptr);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteOut);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, c);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK || code != 200) {
    std::fprintf(stderr, "\nsluice export-ids: %s\n",
                 rc != CURLE_OK ? curl_easy_strerror(rc)
                                : ("server answered " + std::to_string(code)).c_str());
    return 1;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int RunExportIds(const Config& config, const ExportIdsFlags& flags) {
  if (!flags.url.empty()) return ExportIdsOverHttp(flags);
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) {
    std::fprintf(stderr, "sluice export-ids: %s\n", engine.status().message().c_str());
    return 1;
  }
  Status s = (*engine)->DrainToStore();
  if (s.ok() && (*engine)->store() == nullptr) {
    s = Status::InvalidArgument("the store is disabled in the configuration ([store] enabled)");
  }
  if (s.ok()) {
    s = (*engine)->store()->ForEachEventId(flags.tenant, [](std::string_view, std::string_view id) {
      std::fwrite(id.data(), 1, id.size(), stdout);
      std::fputc('\n', stdout);
    });
  }
  if (s.ok()) s = (*engine)->Close();
  if (std::fflush(stdout) != 0 && s.ok()) s = Status::IOError("cannot write to stdout");
  if (!s.ok()) {
    std::fprintf(stderr, "sluice export-ids: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sluice
