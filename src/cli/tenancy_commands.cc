#include "cli/tenancy_commands.h"

#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/server_client.h"
#include "common/json_text.h"
#include "server/data_dir.h"
#include "server/dead_letter_replay.h"
#include "server/engine.h"
#include "store/dead_letters.h"
#include "tenancy/schema_registry.h"
#include "tenancy/tenant_registry.h"

namespace sluice {

namespace {

int Fail(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "sluice %s: %s\n", command.c_str(), message.c_str());
  return 1;
}

void PrintLine(const std::string& s) { std::printf("%s\n", s.c_str()); }

// Prints a server answer: a list as one JSON object per line, anything else as it came.
void PrintReply(const std::string& body, const char* list_key) {
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  if (list_key != nullptr && parser.parse(body)[list_key].get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : list) PrintLine(simdjson::minify(e));
    return;
  }
  PrintLine(body);
}

// Offline: the data dir's lock, then a registry file.
template <typename Registry>
Result<std::unique_ptr<Registry>> OpenOffline(const Config& config,
                                              std::unique_ptr<DataDirLock>* lock,
                                              const std::string& path) {
  auto l = DataDirLock::Acquire(config.data_dir);
  if (!l.ok()) return l.status();
  *lock = std::move(*l);
  return Registry::Open(path);
}

std::string LimitsJson(double eps, double rps, double bytes) {
  std::string out;
  auto add = [&](const char* key, double v) {
    if (v < 0) return;
    out += out.empty() ? "" : ",";
    out += std::string("\"") + key + "\":" + std::to_string(v);
  };
  add("events_per_second", eps);
  add("requests_per_second", rps);
  add("max_stored_bytes", bytes);
  return out;
}

}  // namespace

void TenancyCommands::Register(CLI::App& app, const std::function<void(CLI::App*)>& add_common) {
  auto action = [&](CLI::App* parent, const char* name, const char* help) {
    CLI::App* a = parent->add_subcommand(name, help);
    add_common(a);
    a->add_option("--url", url_, "use a running server instead of the data dir");
    actions_.push_back(a);
    return a;
  };
  auto limits = [&](CLI::App* a) {
    a->add_option("--events-per-second", events_per_second_, "events/s limit (0 = none)");
    a->add_option("--requests-per-second", requests_per_second_, "requests/s limit (0 = none)");
    a->add_option("--max-stored-bytes", max_stored_bytes_, "stored-bytes quota (0 = none)");
  };

  tenants_ = app.add_subcommand("tenants", "create, list and limit tenants");
  tenants_->require_subcommand(1);
  CLI::App* a = action(tenants_, "create", "create a tenant");
  a->add_option("name", name_, "tenant name: a-z, 0-9, '_' and '-'")->required();
  limits(a);
  action(tenants_, "list", "list tenants and their limits");
  a = action(tenants_, "set", "change a tenant's limits");
  a->add_option("name", name_, "tenant name")->required();
  limits(a);

  keys_ = app.add_subcommand("keys", "create, list and revoke API keys");
  keys_->require_subcommand(1);
  a = action(keys_, "create", "create a key; prints the secret once on stdout");
  a->add_option("--tenant", tenant_, "the key's tenant ('*' = operator key)")->required();
  a->add_option("--role", role_, "write|read|admin")->required();
  a->add_option("--name", name_, "a label for the key");
  a = action(keys_, "list", "list keys (never their secrets)");
  a->add_option("--tenant", tenant_, "only this tenant's keys");
  a = action(keys_, "revoke", "revoke a key at once");
  a->add_option("id", id_, "the key's id (key_...)")->required();

  schemas_ = app.add_subcommand("schemas", "JSON Schemas per event type (versioned, additive)");
  schemas_->require_subcommand(1);
  a = action(schemas_, "add", "add the next version of a type's schema");
  a->add_option("--tenant", tenant_, "tenant (default: default; a server takes it from the key)");
  a->add_option("--type", type_, "event type")->required();
  a->add_option("file", file_, "JSON Schema file ('-' = stdin)")->required();
  a = action(schemas_, "list", "list schema versions");
  a->add_option("--tenant", tenant_, "tenant (default: default)");
  a->add_option("--type", type_, "only this type");

  dead_letters_ = app.add_subcommand("dead-letters", "events a schema refused, kept for replay");
  dead_letters_->require_subcommand(1);
  a = action(dead_letters_, "list", "list pending dead letters (--all: replayed ones too)");
  a->add_option("--tenant", tenant_, "tenant (default: default)");
  a->add_option("--type", type_, "only this type");
  a->add_flag("--all", all_, "include replayed ones");
  a = action(dead_letters_, "replay", "re-validate and ingest pending dead letters");
  a->add_option("--tenant", tenant_, "tenant (default: default)");
  a->add_option("--type", type_, "only this type");
}

bool TenancyCommands::parsed() const {
  return tenants_->parsed() || keys_->parsed() || schemas_->parsed() || dead_letters_->parsed();
}

int TenancyCommands::Run(const Config& config) {
  for (CLI::App* a : actions_) {
    if (a->parsed()) action_ = a->get_name();
  }
  if (tenants_->parsed()) return RunTenants(config);
  if (keys_->parsed()) return RunKeys(config);
  if (schemas_->parsed()) return RunSchemas(config);
  return RunDeadLetters(config);
}

int TenancyCommands::RunTenants(const Config& config) {
  const std::string cmd = "tenants " + action_;
  if (!url_.empty()) {
    ServerReply r;
    const std::string limits =
        LimitsJson(events_per_second_, requests_per_second_, max_stored_bytes_);
    if (action_ == "list") {
      r = CallServer("GET", url_, "/v1/admin/tenants");
    } else if (action_ == "create") {
      std::string body = "{\"name\":";
      AppendJsonString(&body, name_);
      r = CallServer("POST", url_, "/v1/admin/tenants",
                     body + (limits.empty() ? "" : "," + limits) + "}");
    } else {
      r = CallServer("PUT", url_, "/v1/admin/tenants/" + UrlEscape(name_), "{" + limits + "}");
    }
    if (!r.ok()) return Fail(cmd, r.error);
    PrintReply(r.body, "tenants");
    return 0;
  }
  std::unique_ptr<DataDirLock> lock;
  auto reg = OpenOffline<TenantRegistry>(config, &lock, DataDirPaths(config.data_dir).tenants());
  if (!reg.ok()) return Fail(cmd, reg.status().message());
  if (action_ == "list") {
    for (const TenantInfo& t : (*reg)->ListTenants()) PrintLine(TenantToJson(t));
    return 0;
  }
  TenantLimits limits;
  if (action_ == "set") {
    auto info = (*reg)->FindTenant(name_);
    if (!info) return Fail(cmd, "no tenant named \"" + name_ + "\"");
    limits = info->limits;
  }
  if (events_per_second_ >= 0) limits.events_per_second = events_per_second_;
  if (requests_per_second_ >= 0) limits.requests_per_second = requests_per_second_;
  if (max_stored_bytes_ >= 0) limits.max_stored_bytes = static_cast<uint64_t>(max_stored_bytes_);
  Status s =
      action_ == "create" ? (*reg)->CreateTenant(name_, limits) : (*reg)->SetLimits(name_, limits);
  if (!s.ok()) return Fail(cmd, s.message());
  PrintLine(TenantToJson(*(*reg)->FindTenant(name_)));
  return 0;
}

int TenancyCommands::RunKeys(const Config& config) {
  const std::string cmd = "keys " + action_;
  if (!url_.empty()) {
    ServerReply r;
    if (action_ == "list") {
      r = CallServer("GET", url_,
                     "/v1/admin/keys" + (tenant_.empty() ? "" : "?tenant=" + UrlEscape(tenant_)));
    } else if (action_ == "create") {
      std::string body = "{\"tenant\":";
      AppendJsonString(&body, tenant_);
      body += ",\"role\":";
      AppendJsonString(&body, role_);
      body += ",\"name\":";
      AppendJsonString(&body, name_);
      r = CallServer("POST", url_, "/v1/admin/keys", body + "}");
    } else {
      r = CallServer("DELETE", url_, "/v1/admin/keys/" + UrlEscape(id_));
    }
    if (!r.ok()) return Fail(cmd, r.error);
    if (action_ == "create") {
      simdjson::dom::parser parser;
      std::string_view secret;
      if (parser.parse(r.body)["key"].get(secret) != simdjson::SUCCESS) {
        return Fail(cmd, "the server's answer has no key");
      }
      std::fprintf(stderr, "%s\n(the key below is shown only once; store it now)\n",
                   r.body.c_str());
      PrintLine(std::string(secret));
      return 0;
    }
    PrintReply(r.body, "keys");
    return 0;
  }
  std::unique_ptr<DataDirLock> lock;
  auto reg = OpenOffline<TenantRegistry>(config, &lock, DataDirPaths(config.data_dir).tenants());
  if (!reg.ok()) return Fail(cmd, reg.status().message());
  if (action_ == "list") {
    std::optional<std::string> only;
    if (!tenant_.empty()) only = tenant_;
    for (const ApiKeyInfo& k : (*reg)->ListKeys(only)) PrintLine(KeyToJson(k));
    return 0;
  }
  if (action_ == "revoke") {
    Status s = (*reg)->RevokeKey(id_, std::nullopt);
    if (!s.ok()) return Fail(cmd, s.message());
    PrintLine("{\"revoked\":\"" + JsonEscape(id_) + "\"}");
    if (!(*reg)->has_active_keys()) {
      // Worth saying: some expect this to reopen the keyless mode; it locks instead.
      std::fprintf(stderr,
                   "that was the last active key: the server will refuse every request until "
                   "a new key is created (sluice keys create)\n");
    }
    return 0;
  }
  auto role = ParseRole(role_);
  if (!role.ok()) return Fail(cmd, role.status().message());
  ApiKeyInfo info;
  auto secret = (*reg)->CreateKey(tenant_, *role, name_, &info);
  if (!secret.ok()) return Fail(cmd, secret.status().message());
  // The secret alone on stdout, so `KEY=$(sluice keys create ...)` works.
  std::fprintf(stderr, "%s\n(the key below is shown only once; store it now)\n",
               KeyToJson(info).c_str());
  PrintLine(*secret);
  return 0;
}

int TenancyCommands::RunSchemas(const Config& config) {
  const std::string cmd = "schemas " + action_;
  std::string text;
  if (action_ == "add") {
    std::stringstream ss;
    if (file_ == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(file_);
      if (!in) return Fail(cmd, "cannot read " + file_);
      ss << in.rdbuf();
    }
    text = ss.str();
  }
  if (!url_.empty()) {
    const std::string scope = tenant_.empty() ? "" : "tenant=" + UrlEscape(tenant_);
    ServerReply r;
    if (action_ == "list") {
      std::string q = scope;
      if (!type_.empty()) q += (q.empty() ? "" : "&") + ("type=" + UrlEscape(type_));
      r = CallServer("GET", url_, "/v1/admin/schemas" + (q.empty() ? "" : "?" + q));
    } else {
      std::string body = "{\"type\":";
      AppendJsonString(&body, type_);
      r = CallServer("POST", url_, "/v1/admin/schemas" + (scope.empty() ? "" : "?" + scope),
                     body + ",\"schema\":" + text + "}");
    }
    if (!r.ok()) return Fail(cmd, r.error);
    PrintReply(r.body, "schemas");
    return 0;
  }
  std::unique_ptr<DataDirLock> lock;
  auto reg = OpenOffline<SchemaRegistry>(config, &lock, DataDirPaths(config.data_dir).schemas());
  if (!reg.ok()) return Fail(cmd, reg.status().message());
  const std::string tenant = tenant_.empty() ? kDefaultTenant : tenant_;
  if (action_ == "list") {
    for (const SchemaVersionInfo& v : (*reg)->List(tenant, type_)) {
      std::string out = "{\"type\":";
      AppendJsonString(&out, v.type);
      PrintLine(out + ",\"version\":" + std::to_string(v.version) + ",\"schema\":" + v.text + "}");
    }
    return 0;
  }
  auto added = (*reg)->AddVersion(tenant, type_, text);
  if (!added.ok()) return Fail(cmd, added.status().message());
  std::string out = "{\"type\":";
  AppendJsonString(&out, added->type);
  PrintLine(out + ",\"version\":" + std::to_string(added->version) + "}");
  return 0;
}

int TenancyCommands::RunDeadLetters(const Config& config) {
  const std::string cmd = "dead-letters " + action_;
  if (!url_.empty()) {
    std::string q;
    auto add = [&](const char* k, const std::string& v) {
      if (!v.empty()) q += (q.empty() ? "?" : "&") + std::string(k) + "=" + UrlEscape(v);
    };
    add("tenant", tenant_);
    add("type", type_);
    if (all_) add("all", "true");
    ServerReply r = action_ == "list"
                        ? CallServer("GET", url_, "/v1/admin/dead-letters" + q)
                        : CallServer("POST", url_, "/v1/admin/dead-letters/replay" + q);
    if (!r.ok()) return Fail(cmd, r.error);
    PrintReply(r.body, "dead_letters");
    return 0;
  }
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) return Fail(cmd, engine.status().message());
  Status s = (*engine)->DrainToStore();
  if (!s.ok()) return Fail(cmd, s.message());
  if ((*engine)->store() == nullptr) return Fail(cmd, "the store is disabled ([store] enabled)");
  const std::string tenant = tenant_.empty() ? kDefaultTenant : tenant_;
  int rc = 0;
  if (action_ == "list") {
    DeadLetterFilter f;
    f.tenant = tenant;
    f.type = type_;
    f.pending_only = !all_;
    auto letters = ListDeadLetters(*(*engine)->store(), f);
    if (!letters.ok()) return Fail(cmd, letters.status().message());
    for (const DeadLetter& d : *letters) {
      std::string out = "{\"event_id\":";
      AppendJsonString(&out, d.rejected.event.event_id);
      out += ",\"type\":";
      AppendJsonString(&out, d.rejected.event.type);
      out += ",\"error\":";
      AppendJsonString(&out, d.rejected.error);
      PrintLine(out + ",\"properties\":" + d.rejected.event.properties + "}");
    }
  } else {
    auto summary = ReplayDeadLetters(**engine, tenant, type_);
    if (!summary.ok()) {
      rc = Fail(cmd, summary.status().message());
    } else {
      PrintLine(summary->ToJson());
    }
  }
  s = (*engine)->Close();
  if (!s.ok()) return Fail(cmd, s.message());
  return rc;
}

}  // namespace sluice
