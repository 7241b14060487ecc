// TenantRegistry: the tenants of a data directory, their limits and their API keys
// (SPEC §1.4, §7), kept in data_dir/tenants.json and held in memory for the request path.
//
// Why a file and not the DuckDB store: keys must work when the store is disabled, and the
// whole registry is small (one line per key) and changes rarely. Every change is written
// atomically (temp, fsync, rename) before it is applied in memory, so a key the CLI
// printed is on disk, and a revoked key is refused from the next request on.
//
// The tenant "default" always exists (embedded single-tenant mode). Keys of the pseudo-
// tenant "*" are operator keys: admin over every tenant (tenants, keys, schemas, tiering,
// /metrics) but never a reader or writer of any tenant's events.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "tenancy/api_key.h"

namespace sluice {

constexpr const char* kDefaultTenant = "default";
constexpr const char* kOperatorTenant = "*";

// 0 = unlimited.
struct TenantLimits {
  double events_per_second = 0;
  double requests_per_second = 0;
  uint64_t max_stored_bytes = 0;
};

struct TenantInfo {
  std::string name;
  TenantLimits limits;
  int64_t created_at_us = 0;
};

struct ApiKeyInfo {
  std::string id;  // "key_" + 12 hex of the hash: names the key in lists and revocations
  std::string tenant;
  Role role = Role::kRead;
  std::string name;    // the creator's label, optional
  std::string sha256;  // of the secret
  int64_t created_at_us = 0;
  int64_t revoked_at_us = 0;  // 0 = active
};

// Who a request is.
struct Principal {
  std::string tenant;  // kOperatorTenant for operator keys
  Role role = Role::kAdmin;
  std::string key_id;  // empty in open (keyless) mode
  bool is_operator() const { return tenant == kOperatorTenant; }
};

// A tenant name is what goes into archive paths and error messages: lowercase letters,
// digits, '_' and '-', starting with a letter or digit, at most 64 bytes.
Status ValidateTenantName(std::string_view name);

// One JSON object each, as the admin API and the CLI print them (never the secret).
std::string TenantToJson(const TenantInfo& t);
std::string KeyToJson(const ApiKeyInfo& k);

class TenantRegistry {
 public:
  // Loads `path` (absent = only "default", no keys).
  static Result<std::unique_ptr<TenantRegistry>> Open(std::string path);

  // Tenants.
  Status CreateTenant(const std::string& name, const TenantLimits& limits);
  Status SetLimits(const std::string& name, const TenantLimits& limits);
  std::vector<TenantInfo> ListTenants() const;
  std::optional<TenantInfo> FindTenant(std::string_view name) const;
  bool TenantExists(std::string_view name) const { return FindTenant(name).has_value(); }
  // The request path's read: no copy of anything but the limits (none for unknown names).
  TenantLimits LimitsOf(std::string_view name) const;

  // Keys. CreateKey returns the secret, which is not kept.
  Result<std::string> CreateKey(const std::string& tenant, Role role, const std::string& name,
                                ApiKeyInfo* info);
  // NotFound unless the key exists and (when tenant_scope is set) belongs to that tenant.
  Status RevokeKey(const std::string& id, const std::optional<std::string>& tenant_scope);
  // All keys, or one tenant's; secrets are never listed.
  std::vector<ApiKeyInfo> ListKeys(const std::optional<std::string>& tenant) const;

  // The principal of an active key; Unauthenticated for an unknown or revoked one.
  Result<Principal> Authenticate(std::string_view secret) const;
  // True while at least one key is not revoked.
  bool has_active_keys() const;
  // True once any key has been created, even if every key was revoked since: open mode
  // (Server::Identify) ends with the first key for good. Were it to follow the active
  // keys instead, revoking the last one — which a tenant admin may do — would hand every
  // local caller every right.
  bool any_key_created() const;

 private:
  explicit TenantRegistry(std::string path) : path_(std::move(path)) {}
  struct State {
    std::vector<TenantInfo> tenants;
    std::vector<ApiKeyInfo> keys;
  };
  Status Load();
  // Writes `next` to disk, then makes it current. Caller holds mu_ exclusively.
  Status Commit(State next);
  void Index();

  const std::string path_;
  mutable std::shared_mutex mu_;
  State state_;
  std::unordered_map<std::string, size_t> by_hash_;       // sha256 -> index in state_.keys
  std::unordered_map<std::string_view, size_t> by_name_;  // tenant -> index in state_.tenants
  size_t active_keys_ = 0;
};

}  // namespace sluice
