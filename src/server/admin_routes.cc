// The tenancy admin routes of SPEC §3.2 and §7, on the Server: tenants (operator keys),
// API keys, schemas and dead letters (admin keys, their own tenant). Authentication and
// the route's required access were checked in Server::Handle (access_policy.h); here each
// route settles which tenant it acts on and never says anything about another one: an
// unknown id and another tenant's id get the same 404.
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/json_text.h"
#include "query/query_string.h"
#include "server/dead_letter_replay.h"
#include "server/server.h"
#include "store/dead_letters.h"

namespace sluice {

namespace {

HttpResponse ErrorFor(const Status& s, unsigned v) {
  const http::status code = HttpStatusFor(s);
  if (code == http::status::internal_server_error) {
    spdlog::error("admin request failed: {}", s.ToString());
    return JsonError(code, "the request failed on the server", v);
  }
  return JsonError(code, s.message(), v);
}

std::string Param(std::string_view target, std::string_view key) {
  auto params = ParseQueryString(target);
  if (!params.ok()) return "";
  for (const auto& [k, v] : *params) {
    if (k == key) return v;
  }
  return "";
}

std::string Iso(int64_t us) { return us == 0 ? "null" : "\"" + FormatRfc3339Micros(us) + "\""; }

// Tenant limits from a JSON body over *limits; absent fields keep their value.
Status ReadLimits(simdjson::dom::element doc, TenantLimits* limits) {
  auto number = [&](const char* key, double* out) -> Status {
    auto f = doc[key];
    if (f.error() == simdjson::NO_SUCH_FIELD) return Status::OK();
    double d;
    if (f.get(d) != simdjson::SUCCESS || d < 0) {
      return Status::InvalidArgument(std::string("\"") + key + "\" must be a number >= 0");
    }
    *out = d;
    return Status::OK();
  };
  double bytes = static_cast<double>(limits->max_stored_bytes);
  SLUICE_RETURN_IF_ERROR(number("events_per_second", &limits->events_per_second));
  SLUICE_RETURN_IF_ERROR(number("requests_per_second", &limits->requests_per_second));
  SLUICE_RETURN_IF_ERROR(number("max_stored_bytes", &bytes));
  limits->max_stored_bytes = static_cast<uint64_t>(bytes);
  return Status::OK();
}

}  // namespace

std::optional<HttpResponse> Server::HandleTenancyAdmin(const HttpRequest& req,
                                                       const RequestPrincipal& who) {
  const unsigned v = req.version();
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const http::verb method = req.method();
  TenantRegistry* tenants = engine_->tenants();
  simdjson::dom::parser parser;
  simdjson::dom::element body;
  auto parse_body = [&]() -> Status {
    if (parser.parse(req.body()).get(body) != simdjson::SUCCESS || !body.is_object()) {
      return Status::InvalidArgument("the body must be a JSON object");
    }
    return Status::OK();
  };
  auto body_string = [&](const char* key, std::string* out) {
    std::string_view s;
    if (body[key].get(s) == simdjson::SUCCESS) *out = std::string(s);
  };

  // --- tenants (operator) ---
  if (path == "/v1/admin/tenants") {
    if (method == http::verb::get) {
      std::string out = "{\"tenants\":[";
      bool first = true;
      for (const TenantInfo& t : tenants->ListTenants()) {
        if (!first) out += ',';
        first = false;
        out += TenantToJson(t);
      }
      return JsonResponse(http::status::ok, out + "]}", v);
    }
    if (method != http::verb::post)
      return JsonError(http::status::method_not_allowed, "use GET or POST", v);
    if (Status s = parse_body(); !s.ok()) return ErrorFor(s, v);
    std::string name;
    body_string("name", &name);
    TenantLimits limits;
    if (Status s = ReadLimits(body, &limits); !s.ok()) return ErrorFor(s, v);
    if (Status s = tenants->CreateTenant(name, limits); !s.ok()) return ErrorFor(s, v);
    return JsonResponse(http::status::created, TenantToJson(*tenants->FindTenant(name)), v);
  }
  if (path.substr(0, 18) == "/v1/admin/tenants/") {
    const std::string name(path.substr(18));
    auto info = tenants->FindTenant(name);
    if (!info) return JsonError(http::status::not_found, "no tenant named \"" + name + "\"", v);
    if (method == http::verb::get) return JsonResponse(http::status::ok, TenantToJson(*info), v);
    if (method != http::verb::put && method != http::verb::patch && method != http::verb::post) {
      return JsonError(http::status::method_not_allowed, "use GET, or PUT with new limits", v);
    }
    if (Status s = parse_body(); !s.ok()) return ErrorFor(s, v);
    TenantLimits limits = info->limits;
    if (Status s = ReadLimits(body, &limits); !s.ok()) return ErrorFor(s, v);
    if (Status s = tenants->SetLimits(name, limits); !s.ok()) return ErrorFor(s, v);
    return JsonResponse(http::status::ok, TenantToJson(*tenants->FindTenant(name)), v);
  }

  // --- keys (admin of the tenant, or operator) ---
  if (path == "/v1/admin/keys") {
    if (method == http::verb::get) {
      auto scope = AdminTenant(who, Param(target, "tenant"), /*optional=*/true);
      if (!scope.ok()) return ErrorFor(scope.status(), v);
      std::optional<std::string> only;
      if (!scope->empty()) only = *scope;
      std::string out = "{\"keys\":[";
      bool first = true;
      for (const ApiKeyInfo& k : tenants->ListKeys(only)) {
        if (!first) out += ',';
        first = false;
        out += KeyToJson(k);
      }
      return JsonResponse(http::status::ok, out + "]}", v);
    }
    if (method != http::verb::post)
      return JsonError(http::status::method_not_allowed, "use GET or POST", v);
    if (Status s = parse_body(); !s.ok()) return ErrorFor(s, v);
    std::string tenant, role_name, name;
    body_string("tenant", &tenant);
    body_string("role", &role_name);
    body_string("name", &name);
    auto scope = AdminTenant(who, tenant, /*optional=*/false);
    if (!scope.ok()) return ErrorFor(scope.status(), v);
    // Only an operator (or open mode) may mint operator keys.
    if (*scope == kOperatorTenant && !(who.open_mode || who.key.is_operator())) {
      return JsonError(http::status::forbidden, "this key administers only its own tenant", v);
    }
    auto role = ParseRole(role_name);
    if (!role.ok()) return ErrorFor(role.status(), v);
    ApiKeyInfo info;
    auto secret = tenants->CreateKey(*scope, *role, name, &info);
    if (!secret.ok()) return ErrorFor(secret.status(), v);
    std::string out = KeyToJson(info);
    out.pop_back();
    out += ",\"key\":";
    AppendJsonString(&out, *secret);
    out += ",\"note\":\"the key is shown only once; store it now\"}";
    return JsonResponse(http::status::created, out, v);
  }
  if (path.substr(0, 15) == "/v1/admin/keys/") {
    std::string id(path.substr(15));
    if (id.size() > 7 && id.substr(id.size() - 7) == "/revoke") id.resize(id.size() - 7);
    if (method != http::verb::delete_ && method != http::verb::post) {
      return JsonError(http::status::method_not_allowed, "use DELETE to revoke a key", v);
    }
    std::optional<std::string> scope;
    if (!who.open_mode && !who.key.is_operator()) scope = who.key.tenant;
    if (Status s = tenants->RevokeKey(id, scope); !s.ok()) return ErrorFor(s, v);
    return JsonResponse(http::status::ok, "{\"revoked\":\"" + JsonEscape(id) + "\"}", v);
  }

  // --- schemas ---
  if (path == "/v1/admin/schemas") {
    auto scope = AdminTenant(who, Param(target, "tenant"), /*optional=*/false);
    if (!scope.ok()) return ErrorFor(scope.status(), v);
    if (method == http::verb::get) {
      std::string out = "{\"schemas\":[";
      bool first = true;
      for (const SchemaVersionInfo& s : engine_->schemas()->List(*scope, Param(target, "type"))) {
        if (!first) out += ',';
        first = false;
        out += "{\"type\":";
        AppendJsonString(&out, s.type);
        out += ",\"version\":" + std::to_string(s.version) +
               ",\"created_at\":" + Iso(s.created_at_us) + ",\"schema\":" + s.text + "}";
      }
      return JsonResponse(http::status::ok, out + "]}", v);
    }
    if (method != http::verb::post)
      return JsonError(http::status::method_not_allowed, "use GET or POST", v);
    if (Status s = parse_body(); !s.ok()) return ErrorFor(s, v);
    std::string type;
    body_string("type", &type);
    simdjson::dom::element schema;
    if (body["schema"].get(schema) != simdjson::SUCCESS || !schema.is_object()) {
      return JsonError(http::status::bad_request,
                       "the body must be {\"type\":\"EVENT_TYPE\",\"schema\":{...}}", v);
    }
    auto added = engine_->schemas()->AddVersion(*scope, type, simdjson::minify(schema));
    if (!added.ok()) {
      const bool incompatible = added.status().message().rfind("incompatible", 0) == 0;
      return JsonError(incompatible ? http::status::conflict : http::status::bad_request,
                       added.status().message(), v);
    }
    std::string out = "{\"type\":";
    AppendJsonString(&out, added->type);
    out += ",\"version\":" + std::to_string(added->version) + "}";
    return JsonResponse(http::status::created, out, v);
  }

  // --- dead letters ---
  if (path == "/v1/admin/dead-letters" || path == "/v1/admin/dead-letters/replay") {
    if (engine_->store() == nullptr) {
      return JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v);
    }
    auto scope = AdminTenant(who, Param(target, "tenant"), /*optional=*/false);
    if (!scope.ok()) return ErrorFor(scope.status(), v);
    // Dead letters reach the table through the store consumer: wait (briefly) until it
    // has everything acknowledged so far, so a listing right after a 202 is complete.
    const uint64_t acked = log_->durable_offset();
    for (int i = 0; i < 500 && consumer_->applied_offset() < acked; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    DeadLetterFilter filter;
    filter.tenant = *scope;
    filter.type = Param(target, "type");
    const bool replay = path.size() > 23;
    if (replay && method != http::verb::post) {
      return JsonError(http::status::method_not_allowed, "use POST to replay", v);
    }
    if (!replay && method != http::verb::get) {
      return JsonError(http::status::method_not_allowed, "use GET to list, POST .../replay", v);
    }
    filter.pending_only = replay || Param(target, "all") != "true";
    filter.limit = replay ? 100000 : 1000;
    if (std::string l = Param(target, "limit"); !l.empty() && !replay) {
      filter.limit = std::strtoull(l.c_str(), nullptr, 10);
      if (filter.limit == 0 || filter.limit > 100000) {
        return JsonError(http::status::bad_request, "limit must be 1 to 100000", v);
      }
    }
    if (!replay) {
      auto letters = ListDeadLetters(*engine_->store(), filter);
      if (!letters.ok()) return ErrorFor(letters.status(), v);
      std::string out = "{\"dead_letters\":[";
      for (size_t i = 0; i < letters->size(); ++i) {
        const DeadLetter& d = (*letters)[i];
        const Event& e = d.rejected.event;
        if (i) out += ',';
        out += "{\"event_id\":";
        AppendJsonString(&out, e.event_id);
        out += ",\"type\":";
        AppendJsonString(&out, e.type);
        out += ",\"timestamp\":" + Iso(e.ts_us) + ",\"received_at\":" + Iso(e.received_at_us) +
               ",\"error\":";
        AppendJsonString(&out, d.rejected.error);
        out += ",\"schema_version\":" + std::to_string(d.rejected.schema_version) +
               ",\"replayed_at\":" + Iso(d.replayed_at_us) + ",\"properties\":" + e.properties +
               "}";
      }
      return JsonResponse(http::status::ok, out + "]}", v);
    }
    // A replay is ingest: it is held to the tenant's events/s like POST /v1/events, or
    // replaying a backlog would be a way around it. It takes at most what the bucket
    // holds (the answer says "more" when letters remain), so one replay cannot put the
    // tenant's live ingest into minutes of debt. Not to the stored-bytes quota: a replay
    // turns a stored dead letter into a stored event of the same size minus its error
    // text, so it never grows storage, and refusing it at the quota would leave a tenant
    // whose refused events filled the quota with no way out. It is metered all the same:
    // the letters stop counting once marked, their events once the store holds them.
    const TenantLimits limits = LimitsOf(*scope);
    uint64_t max_letters = kMaxReplayLetters;
    if (limits.events_per_second > 0) {
      RateDecision d = rate_limiter_.Peek(*scope, RateLimiter::Kind::kEvents,
                                          limits.events_per_second, NowMicros());
      if (!d.allowed) return TooManyRequests("events/s", d, v);
      max_letters = std::max<uint64_t>(1, static_cast<uint64_t>(d.remaining));
    }
    auto summary = ReplayDeadLetters(*engine_, *scope, filter.type, max_letters,
                                     limits.max_stored_bytes > 0 ? &storage_ : nullptr);
    if (!summary.ok()) return ErrorFor(summary.status(), v);
    metrics_.events_accepted.fetch_add(summary->accepted, std::memory_order_relaxed);
    metrics_.events_duplicate.fetch_add(summary->duplicates, std::memory_order_relaxed);
    HttpResponse res = JsonResponse(http::status::ok, summary->ToJson(), v);
    if (limits.events_per_second > 0) {
      RateDecision d =
          rate_limiter_.Consume(*scope, RateLimiter::Kind::kEvents, limits.events_per_second,
                                static_cast<double>(summary->replayed), NowMicros());
      SetRateLimitHeaders(d, &res);
    }
    return res;
  }
  return std::nullopt;
}

}  // namespace sluice
