// AccessPolicy: which key each HTTP route needs, and which tenant a request acts on
// (SPEC §1.4, §3.2, §7). Every request passes here before any handler runs, so isolation
// is decided in one place rather than remembered by each handler.
//
//   public     /healthz, /readyz
//   write      POST /v1/events
//   read       GET /v1/events, POST /v1/query, /v1/metrics/..., /v1/admin/event-ids
//   admin      /v1/admin/{keys,schemas,dead-letters,metrics,connectors,rehydrate}: the
//              key's own tenant (an operator key names one with ?tenant=)
//   operator   /v1/admin/{tenants,archive,compact,retention}, /metrics
//
// An admin key can do what read and write keys can, for its tenant. An operator key
// (tenant "*") administers every tenant but reads and writes no tenant's events. Until the
// first key is created in the data dir (loopback only, see Server::Start) every request is
// tenant "default" with every right: the embedded single-tenant mode. Revoking every key
// later does not bring it back (TenantRegistry::any_key_created).
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "common/status.h"
#include "tenancy/tenant_registry.h"

namespace sluice {

enum class Access { kPublic, kWrite, kRead, kTenantAdmin, kOperator };

Access RequiredAccess(boost::beast::http::verb method, std::string_view path, bool public_metrics);

// The caller of one request after authentication.
struct RequestPrincipal {
  Principal key;
  bool open_mode = false;  // no key was ever created: everything allowed, tenant "default"
};

// PermissionDenied (with a message that names only the caller's own role) when `p` may
// not use a route that needs `access`.
Status Authorize(const RequestPrincipal& p, Access access);

// The tenant an admin route acts on: the key's own, or for an operator (and open mode)
// `requested`, which an operator must give unless `optional` (then empty = all tenants).
// PermissionDenied when a tenant key asks for another tenant.
Result<std::string> AdminTenant(const RequestPrincipal& p, const std::string& requested,
                                bool optional);

}  // namespace sluice
