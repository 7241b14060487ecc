// `sluice checkpoint show|set CONNECTOR [VALUE]`: inspect or move a pull connector's
// durable checkpoint on the data dir (SPEC §3.1). CONNECTOR is a name (with --tenant) or
// a CONNECTOR.toml. `show` without CONNECTOR lists every connector's checkpoint.
//
// `set` writes a kConnectorBatch record with no events and the new checkpoint — the same
// path a pull takes — so the move is durable, survives log collection through the store,
// and the next pull resumes there. Moving back replays; dedupe drops what is re-pulled.
// With --url it goes through a running server's /v1/admin/connectors.
#include <curl/curl.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "server/engine.h"
#include "sources/checkpoint_store.h"
#include "sources/connector_config.h"

namespace sluice {

namespace {

size_t Collect(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

int OverHttp(const CheckpointFlags& f, const std::string& name) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* c = curl_easy_init();
  std::string url = f.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/v1/admin/connectors";
  std::string body;
  if (f.action == "show" && !name.empty()) url += "/" + name;
  if (f.action == "set") {
    url += "/" + name + "/checkpoint";
    std::string escaped;
    for (char ch : f.value) {
      if (ch == '"' || ch == '\\') escaped += '\\';
      escaped += ch;
    }
    body = "{\"checkpoint\":\"" + escaped + "\"}";
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  }
  std::string reply;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK || (code != 200 && code != 202)) {
    std::fprintf(stderr, "sluice checkpoint: %s\n",
                 rc != CURLE_OK
                     ? curl_easy_strerror(rc)
                     : ("server answered " + std::to_string(code) + ": " + reply).c_str());
    return 1;
  }
  std::printf("%s\n", reply.c_str());
  return 0;
}

}  // namespace

int RunCheckpoint(const Config& config, const CheckpointFlags& flags) {
  std::string tenant = flags.tenant, name = flags.connector;
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0) {
    auto cc = LoadConnectorFile(name);
    if (!cc.ok()) {
      std::fprintf(stderr, "sluice checkpoint: %s\n", cc.status().message().c_str());
      return 2;
    }
    tenant = cc->tenant;
    name = cc->name;
  }
  if (flags.action == "set" && name.empty()) {
    std::fprintf(stderr, "sluice checkpoint: set needs CONNECTOR and VALUE\n");
    return 2;
  }
  if (!flags.url.empty()) return OverHttp(flags, name);
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) {
    std::fprintf(stderr, "sluice checkpoint: %s\n", engine.status().message().c_str());
    return 1;
  }
  Engine* e = engine->get();
  if (flags.action == "set") {
    std::vector<Event> none;
    auto r = e->ingestor()->SubmitConnectorBatch({tenant, name, flags.value}, &none);
    Status s = r.ok() ? e->log()->WaitDurable(r->wait_offset) : r.status();
    if (s.ok()) s = e->DrainToStore();
    if (!s.ok()) {
      std::fprintf(stderr, "sluice checkpoint: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("%s/%s checkpoint set to \"%s\"\n", tenant.c_str(), name.c_str(),
                flags.value.c_str());
    return e->Close().ok() ? 0 : 1;
  }
  auto all = LoadDurableCheckpoints(e->log(), e->store());
  if (!all.ok()) {
    std::fprintf(stderr, "sluice checkpoint: %s\n", all.status().message().c_str());
    return 1;
  }
  bool found = false;
  for (const auto& [key, cp] : *all) {
    if (!name.empty() && (key.first != tenant || key.second != name)) continue;
    found = true;
    if (name.empty()) {
      std::printf("%s\t%s\t%s\n", key.first.c_str(), key.second.c_str(), cp.c_str());
    } else {
      std::printf("%s\n", cp.c_str());
    }
  }
  if (!name.empty() && !found) {
    std::fprintf(stderr, "sluice checkpoint: %s/%s has no checkpoint\n", tenant.c_str(),
                 name.c_str());
    return 1;
  }
  return e->Close().ok() ? 0 : 1;
}

}  // namespace sluice
