#include "server/access_policy.h"

namespace sluice {

namespace http = boost::beast::http;

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "/v1/admin/keys" and "/v1/admin/keys/..." but not "/v1/admin/keysX".
bool Under(std::string_view path, std::string_view root) {
  return path == root || (StartsWith(path, root) && path[root.size()] == '/');
}

}  // namespace

Access RequiredAccess(http::verb method, std::string_view path, bool public_metrics) {
  if (path == "/healthz" || path == "/readyz") return Access::kPublic;
  if (path == "/metrics") return public_metrics ? Access::kPublic : Access::kOperator;
  if (path == "/v1/events") return method == http::verb::post ? Access::kWrite : Access::kRead;
  if (path == "/v1/query" || Under(path, "/v1/metrics") || path == "/v1/admin/event-ids") {
    return Access::kRead;
  }
  if (Under(path, "/v1/admin/tenants") || path == "/v1/admin/archive" ||
      path == "/v1/admin/compact" || path == "/v1/admin/retention") {
    return Access::kOperator;
  }
  // Every other admin route, and unknown routes: a 404 is only told to an admin.
  return Access::kTenantAdmin;
}

Status Authorize(const RequestPrincipal& p, Access access) {
  if (access == Access::kPublic || p.open_mode) return Status::OK();
  const Principal& k = p.key;
  const std::string role = k.is_operator() ? "operator" : RoleName(k.role);
  switch (access) {
    case Access::kPublic:
      return Status::OK();
    case Access::kWrite:
      if (!k.is_operator() && (k.role == Role::kWrite || k.role == Role::kAdmin)) {
        return Status::OK();
      }
      return Status::PermissionDenied("a " + role + " key cannot send events; use a write key");
    case Access::kRead:
      if (!k.is_operator() && (k.role == Role::kRead || k.role == Role::kAdmin)) {
        return Status::OK();
      }
      return Status::PermissionDenied("a " + role + " key cannot read events; use a read key");
    case Access::kTenantAdmin:
      if (k.role == Role::kAdmin) return Status::OK();
      return Status::PermissionDenied("a " + role + " key cannot use this route; use an admin key");
    case Access::kOperator:
      if (k.is_operator()) return Status::OK();
      return Status::PermissionDenied("a " + role +
                                      " key cannot use this route; it needs an operator key "
                                      "(sluice keys create --tenant '*' --role admin)");
  }
  return Status::PermissionDenied("denied");
}

Result<std::string> AdminTenant(const RequestPrincipal& p, const std::string& requested,
                                bool optional) {
  if (p.open_mode) return requested.empty() && !optional ? kDefaultTenant : requested;
  if (p.key.is_operator()) {
    if (requested.empty() && !optional) {
      return Status::InvalidArgument("name the tenant with ?tenant=NAME");
    }
    return requested;
  }
  if (!requested.empty() && requested != p.key.tenant) {
    return Status::PermissionDenied("this key administers only its own tenant");
  }
  return p.key.tenant;
}

}  // namespace sluice
