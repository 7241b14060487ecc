// `sluice checkpoint show|set CONNECTOR [VALUE]`: inspect or move a pull connector's
// durable checkpoint on the data dir (SPEC §3.1). CONNECTOR is a name (with --tenant) or
// a CONNECTOR.toml. `show` without CONNECTOR lists every connector's checkpoint.
//
// `set` writes a kConnectorBatch record with no events and the new checkpoint — the same
// path a pull takes — so the move is durable, survives log collection through the store,
// and the next pull resumes there. Moving back replays; dedupe drops what is re-pulled.
// With --url it goes through a running server's /v1/admin/connectors.
//
// A value the connector could not read back is refused here, before anything is written
// (checkpoint_value.h): the kind comes from CONNECTOR.toml, else serve's [[connector]]
// tables, else the running server's status (--url) or the shape of the durable checkpoint.
#include <simdjson.h>

#include <cstdio>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "common/json_text.h"
#include "server/engine.h"
#include "sources/checkpoint_store.h"
#include "sources/checkpoint_value.h"
#include "sources/connector_config.h"

namespace sluice {

namespace {

// The kind the running server reports for `name`, if it answers.
std::optional<ConnectorKind> KindFromServer(const CheckpointFlags& f, const std::string& name) {
  // Through server_client, like every --url command: it sends the API key.
  const ServerReply r = CallServer("GET", f.url, "/v1/admin/connectors/" + UrlEscape(name));
  if (!r.ok()) return std::nullopt;
  simdjson::dom::parser parser;
  std::string_view kind;
  if (parser.parse(r.body)["kind"].get_string().get(kind)) return std::nullopt;
  for (ConnectorKind k :
       {ConnectorKind::kCursor, ConnectorKind::kTimeWindow, ConnectorKind::kSnapshot}) {
    if (kind == ConnectorKindName(k)) return k;
  }
  return std::nullopt;
}

// The kind serve's config declares for tenant/name, if it does.
std::optional<ConnectorKind> KindFromServeConfig(const Config& config, const std::string& tenant,
                                                 const std::string& name) {
  // A broken [[connector]] elsewhere in the file is serve's problem, not this command's.
  auto all = LoadConnectorsFromConfig(config.path);
  if (!all.ok()) return std::nullopt;
  for (const ConnectorConfig& c : *all) {
    if (c.tenant == tenant && c.name == name) return c.kind;
  }
  return std::nullopt;
}

// The value to write, or nullopt after printing why `value` is refused.
std::optional<std::string> Checked(std::optional<ConnectorKind> kind, const std::string& tenant,
                                   const std::string& name, const std::string& value) {
  if (!kind) return value;  // nothing tells what reads it: any value
  auto v = NormalizeCheckpoint(*kind, value);
  if (!v.ok()) {
    std::fprintf(stderr, "sluice checkpoint: %s/%s: %s\n", tenant.c_str(), name.c_str(),
                 v.status().message().c_str());
    return std::nullopt;
  }
  return *v;
}

int OverHttp(const CheckpointFlags& f, const std::string& name) {
  std::string path = "/v1/admin/connectors";
  ServerReply r;
  if (f.action == "set") {
    std::string body = "{\"checkpoint\":";
    AppendJsonString(&body, f.value);
    body += "}";
    r = CallServer("POST", f.url, path + "/" + UrlEscape(name) + "/checkpoint", body);
  } else {
    r = CallServer("GET", f.url, name.empty() ? path : path + "/" + UrlEscape(name));
  }
  if (!r.ok()) {
    std::fprintf(stderr, "sluice checkpoint: %s\n", r.error.c_str());
    return 1;
  }
  std::printf("%s\n", r.body.c_str());
  return 0;
}

}  // namespace

int RunCheckpoint(const Config& config, const CheckpointFlags& flags) {
  std::string tenant = flags.tenant, name = flags.connector;
  std::optional<ConnectorKind> file_kind;
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0) {
    auto cc = LoadConnectorFile(name);
    if (!cc.ok()) {
      std::fprintf(stderr, "sluice checkpoint: %s\n", cc.status().message().c_str());
      return 2;
    }
    tenant = cc->tenant;
    name = cc->name;
    file_kind = cc->kind;
  }
  if (flags.action == "set" && name.empty()) {
    std::fprintf(stderr, "sluice checkpoint: set needs CONNECTOR and VALUE\n");
    return 2;
  }
  std::optional<ConnectorKind> kind;
  if (flags.action == "set") {
    kind = file_kind ? file_kind : KindFromServeConfig(config, tenant, name);
  }
  if (!flags.url.empty()) {
    if (flags.action != "set") return OverHttp(flags, name);
    if (!kind) kind = KindFromServer(flags, name);
    auto value = Checked(kind, tenant, name, flags.value);
    if (!value) return 2;
    CheckpointFlags normalized = flags;
    normalized.value = *value;
    return OverHttp(normalized, name);
  }
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) {
    std::fprintf(stderr, "sluice checkpoint: %s\n", engine.status().message().c_str());
    return 1;
  }
  Engine* e = engine->get();
  if (flags.action == "set") {
    if (!kind) {
      auto current = LoadDurableCheckpoint(e->log(), e->store(), tenant, name);
      if (current.ok() && !current->empty()) kind = KindFromCheckpoint(*current);
    }
    auto value = Checked(kind, tenant, name, flags.value);
    if (!value) {
      (void)e->Close();
      return 2;
    }
    std::vector<Event> none;
    auto r = e->ingestor()->SubmitConnectorBatch({tenant, name, *value}, &none);
    Status s = r.ok() ? e->log()->WaitDurable(r->wait_offset) : r.status();
    if (s.ok()) s = e->DrainToStore();
    if (!s.ok()) {
      std::fprintf(stderr, "sluice checkpoint: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("%s/%s checkpoint set to \"%s\"\n", tenant.c_str(), name.c_str(), value->c_str());
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
