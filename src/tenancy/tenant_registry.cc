#include "tenancy/tenant_registry.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/clock.h"
#include "common/json_text.h"
#include "log/log_files.h"

namespace sluice {

namespace {

std::string Number(double d) {
  std::ostringstream os;
  os.precision(17);
  os << d;
  return os.str();
}

Status Bad(const std::string& path, const std::string& why) {
  return Status::Corruption(path + ": " + why);
}

}  // namespace

Status ValidateTenantName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("a tenant name must be 1 to 64 characters");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) {
      return Status::InvalidArgument(
          "a tenant name may hold only lowercase letters, digits, '_' and '-', and must start "
          "with a letter or digit");
    }
  }
  return Status::OK();
}

namespace {

std::string Iso(int64_t us) { return us == 0 ? "null" : "\"" + FormatRfc3339Micros(us) + "\""; }

}  // namespace

std::string TenantToJson(const TenantInfo& t) {
  std::string out = "{\"name\":";
  AppendJsonString(&out, t.name);
  out += ",\"events_per_second\":" + Number(t.limits.events_per_second) +
         ",\"requests_per_second\":" + Number(t.limits.requests_per_second) +
         ",\"max_stored_bytes\":" + std::to_string(t.limits.max_stored_bytes) +
         ",\"created_at\":" + Iso(t.created_at_us) + "}";
  return out;
}

std::string KeyToJson(const ApiKeyInfo& k) {
  std::string out = "{\"id\":";
  AppendJsonString(&out, k.id);
  out += ",\"tenant\":";
  AppendJsonString(&out, k.tenant);
  out += ",\"role\":\"" + std::string(RoleName(k.role)) + "\",\"name\":";
  AppendJsonString(&out, k.name);
  out +=
      ",\"created_at\":" + Iso(k.created_at_us) + ",\"revoked_at\":" + Iso(k.revoked_at_us) + "}";
  return out;
}

Result<std::unique_ptr<TenantRegistry>> TenantRegistry::Open(std::string path) {
  std::unique_ptr<TenantRegistry> r(new TenantRegistry(std::move(path)));
  SLUICE_RETURN_IF_ERROR(r->Load());
  return r;
}

Status TenantRegistry::Load() {
  State st;
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.load(path_).get(doc)) {
      return Bad(path_, std::string("not valid JSON: ") + simdjson::error_message(err));
    }
    simdjson::dom::array tenants, keys;
    if (doc["tenants"].get(tenants) || doc["keys"].get(keys)) {
      return Bad(path_, "expected \"tenants\" and \"keys\" lists");
    }
    for (simdjson::dom::element t : tenants) {
      TenantInfo info;
      std::string_view name;
      if (t["name"].get(name)) return Bad(path_, "a tenant without a name");
      info.name = std::string(name);
      double d;
      uint64_t u;
      int64_t i;
      if (!t["events_per_second"].get(d)) info.limits.events_per_second = d;
      if (!t["requests_per_second"].get(d)) info.limits.requests_per_second = d;
      if (!t["max_stored_bytes"].get(u)) info.limits.max_stored_bytes = u;
      if (!t["created_at_us"].get(i)) info.created_at_us = i;
      st.tenants.push_back(std::move(info));
    }
    for (simdjson::dom::element k : keys) {
      ApiKeyInfo info;
      std::string_view s;
      if (k["id"].get(s)) return Bad(path_, "a key without an id");
      info.id = std::string(s);
      if (k["tenant"].get(s)) return Bad(path_, "key " + info.id + " has no tenant");
      info.tenant = std::string(s);
      if (k["role"].get(s)) return Bad(path_, "key " + info.id + " has no role");
      auto role = ParseRole(s);
      if (!role.ok()) return Bad(path_, "key " + info.id + ": " + role.status().message());
      info.role = *role;
      if (k["sha256"].get(s) || s.size() != 64)
        return Bad(path_, "key " + info.id + " has no hash");
      info.sha256 = std::string(s);
      if (!k["name"].get(s)) info.name = std::string(s);
      int64_t i;
      if (!k["created_at_us"].get(i)) info.created_at_us = i;
      if (!k["revoked_at_us"].get(i)) info.revoked_at_us = i;
      st.keys.push_back(std::move(info));
    }
  }
  if (std::none_of(st.tenants.begin(), st.tenants.end(),
                   [](const TenantInfo& t) { return t.name == kDefaultTenant; })) {
    st.tenants.insert(st.tenants.begin(), TenantInfo{kDefaultTenant, {}, 0});
  }
  std::unique_lock lock(mu_);
  state_ = std::move(st);
  Index();
  return Status::OK();
}

void TenantRegistry::Index() {
  by_name_.clear();
  for (size_t i = 0; i < state_.tenants.size(); ++i) by_name_[state_.tenants[i].name] = i;
  by_hash_.clear();
  active_keys_ = 0;
  for (size_t i = 0; i < state_.keys.size(); ++i) {
    by_hash_[state_.keys[i].sha256] = i;
    if (state_.keys[i].revoked_at_us == 0) ++active_keys_;
  }
}

Status TenantRegistry::Commit(State next) {
  std::string out = "{\"format\":1,\"tenants\":[";
  for (size_t i = 0; i < next.tenants.size(); ++i) {
    const TenantInfo& t = next.tenants[i];
    if (i) out += ',';
    out += "\n{\"name\":";
    AppendJsonString(&out, t.name);
    out += ",\"events_per_second\":" + Number(t.limits.events_per_second) +
           ",\"requests_per_second\":" + Number(t.limits.requests_per_second) +
           ",\"max_stored_bytes\":" + std::to_string(t.limits.max_stored_bytes) +
           ",\"created_at_us\":" + std::to_string(t.created_at_us) + "}";
  }
  out += "],\"keys\":[";
  for (size_t i = 0; i < next.keys.size(); ++i) {
    const ApiKeyInfo& k = next.keys[i];
    if (i) out += ',';
    out += "\n{\"id\":";
    AppendJsonString(&out, k.id);
    out += ",\"tenant\":";
    AppendJsonString(&out, k.tenant);
    out += ",\"role\":\"" + std::string(RoleName(k.role)) + "\",\"name\":";
    AppendJsonString(&out, k.name);
    out += ",\"sha256\":\"" + k.sha256 + "\",\"created_at_us\":" + std::to_string(k.created_at_us) +
           ",\"revoked_at_us\":" + std::to_string(k.revoked_at_us) + "}";
  }
  out += "]}\n";
  SLUICE_RETURN_IF_ERROR(WriteFileAtomic(path_, out));
  state_ = std::move(next);
  Index();
  return Status::OK();
}

Status TenantRegistry::CreateTenant(const std::string& name, const TenantLimits& limits) {
  SLUICE_RETURN_IF_ERROR(ValidateTenantName(name));
  std::unique_lock lock(mu_);
  for (const TenantInfo& t : state_.tenants) {
    if (t.name == name) return Status::InvalidArgument("tenant \"" + name + "\" already exists");
  }
  State next = state_;
  next.tenants.push_back(TenantInfo{name, limits, NowMicros()});
  return Commit(std::move(next));
}

Status TenantRegistry::SetLimits(const std::string& name, const TenantLimits& limits) {
  std::unique_lock lock(mu_);
  State next = state_;
  for (TenantInfo& t : next.tenants) {
    if (t.name == name) {
      t.limits = limits;
      return Commit(std::move(next));
    }
  }
  return Status::NotFound("no tenant named \"" + name + "\"");
}

std::vector<TenantInfo> TenantRegistry::ListTenants() const {
  std::shared_lock lock(mu_);
  return state_.tenants;
}

std::optional<TenantInfo> TenantRegistry::FindTenant(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return state_.tenants[it->second];
}

TenantLimits TenantRegistry::LimitsOf(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? TenantLimits{} : state_.tenants[it->second].limits;
}

Result<std::string> TenantRegistry::CreateKey(const std::string& tenant, Role role,
                                              const std::string& name, ApiKeyInfo* info) {
  if (tenant == kOperatorTenant) {
    if (role != Role::kAdmin) {
      return Status::InvalidArgument("operator keys (tenant \"*\") must have the admin role");
    }
  } else if (!TenantExists(tenant)) {
    return Status::NotFound("no tenant named \"" + tenant +
                            "\" (create it first: sluice tenants create " + tenant + ")");
  }
  auto secret = GenerateApiKey();
  if (!secret.ok()) return secret.status();
  ApiKeyInfo k;
  k.sha256 = HashApiKey(*secret);
  k.id = "key_" + k.sha256.substr(0, 12);
  k.tenant = tenant;
  k.role = role;
  k.name = name;
  k.created_at_us = NowMicros();
  std::unique_lock lock(mu_);
  State next = state_;
  next.keys.push_back(k);
  SLUICE_RETURN_IF_ERROR(Commit(std::move(next)));
  if (info) *info = k;
  return secret;
}

Status TenantRegistry::RevokeKey(const std::string& id,
                                 const std::optional<std::string>& tenant_scope) {
  std::unique_lock lock(mu_);
  State next = state_;
  for (ApiKeyInfo& k : next.keys) {
    if (k.id != id || (tenant_scope && k.tenant != *tenant_scope)) continue;
    if (k.revoked_at_us != 0) return Status::OK();
    k.revoked_at_us = NowMicros();
    return Commit(std::move(next));
  }
  return Status::NotFound("no key " + id);
}

std::vector<ApiKeyInfo> TenantRegistry::ListKeys(const std::optional<std::string>& tenant) const {
  std::shared_lock lock(mu_);
  std::vector<ApiKeyInfo> out;
  for (const ApiKeyInfo& k : state_.keys) {
    if (!tenant || k.tenant == *tenant) out.push_back(k);
  }
  return out;
}

Result<Principal> TenantRegistry::Authenticate(std::string_view secret) const {
  const std::string hash = HashApiKey(secret);
  std::shared_lock lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return Status::Unauthenticated("the API key is not valid");
  const ApiKeyInfo& k = state_.keys[it->second];
  if (k.revoked_at_us != 0) return Status::Unauthenticated("the API key has been revoked");
  return Principal{k.tenant, k.role, k.id};
}

bool TenantRegistry::has_active_keys() const {
  std::shared_lock lock(mu_);
  return active_keys_ > 0;
}

bool TenantRegistry::any_key_created() const {
  std::shared_lock lock(mu_);
  return !state_.keys.empty();  // keys are revoked in place, never removed
}

}  // namespace sluice
