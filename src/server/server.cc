#include "server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <simdjson.h>

#include <cstdio>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "common/clock.h"
#include "common/thread_name.h"
#include "ingest/dead_letter_codec.h"
#include "ingest/decompress.h"
#include "ingest/envelope_parser.h"
#include "ingest/timestamp.h"
#include "query/event_search.h"
#include "query/query_string.h"
#include "query/sql_query.h"
#include "server/connector_routes.h"

namespace sluice {

namespace {

// What a caller is told when the log refuses an append (its write queue is full, or it
// is closing). The log's own text carries server-wide byte counts, which are no
// tenant's business (SPEC §1.4); it goes to the server's log instead.
constexpr const char* kLogBusy = "the event log is busy writing; retry shortly";

HttpResponse Unavailable(const std::string& why, unsigned version) {
  HttpResponse res = JsonError(http::status::service_unavailable, why, version);
  res.set(http::field::retry_after, "1");
  return res;
}

// The value of `key` in the query string of `target`; empty if absent or malformed.
std::string QueryParam(std::string_view target, std::string_view key) {
  auto params = ParseQueryString(target);
  if (!params.ok()) return "";
  for (const auto& [k, v] : *params) {
    if (k == key) return v;
  }
  return "";
}

std::string FormatRate(double per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", per_second);
  return buf;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string RouteLabel(std::string_view target) {
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path == "/v1/events" || path == "/healthz" || path == "/readyz" || path == "/metrics" ||
      path == "/v1/admin/event-ids" || path == "/v1/admin/archive" || path == "/v1/admin/compact" ||
      path == "/v1/admin/retention" || path == "/v1/admin/rehydrate" || path == "/v1/query") {
    return std::string(path);
  }
  return "other";
}

}  // namespace

void SetRateLimitHeaders(const RateDecision& d, HttpResponse* res) {
  if (d.limit <= 0) return;
  res->set("X-RateLimit-Limit", FormatRate(d.limit));
  res->set("X-RateLimit-Remaining", std::to_string(static_cast<int64_t>(d.remaining)));
  res->set("X-RateLimit-Reset", std::to_string(static_cast<int64_t>(std::ceil(d.reset_seconds))));
}

Server::Server(Config config) : config_(std::move(config)) {}

Server::~Server() {
  if (!shut_down_) Shutdown();
}

void Server::BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Status Server::Start() {
  auto engine = Engine::Open(config_, /*start_consumer=*/true);
  if (!engine.ok()) return engine.status();
  engine_ = std::move(*engine);
  log_ = engine_->log();
  ingestor_ = engine_->ingestor();
  consumer_ = engine_->consumer();

  // Two query threads: the machine-sized default for a 2-core box; DuckDB parallelizes
  // inside each query. 64 queued at most, then 503.
  query_pool_ = std::make_unique<BlockingPool>(2, 64);
  if (engine_->rollups() != nullptr) {
    metric_reader_ =
        std::make_unique<MetricReader>(engine_->store(), engine_->rollups(),
                                       config_.metrics_max_points, config_.metrics_cache_entries);
  }
  auto connector_configs = LoadConnectorsFromConfig(config_.path);
  if (!connector_configs.ok()) return connector_configs.status();
  if (consumer_ != nullptr && config_.store_max_lag_ms > 0) {
    const int64_t max_lag_us = int64_t{config_.store_max_lag_ms} * 1000;
    ack_pacer_ =
        std::make_unique<AckPacer>([this, max_lag_us] { return ConsumerLagMicros() > max_lag_us; },
                                   config_.store_max_ack_delay_ms);
  }
  connectors_ = std::make_unique<ConnectorRunner>(ingestor_, log_, engine_->store());
  connectors_->set_schema_lookup(
      [schemas = engine_->schemas()](const std::string& t) { return schemas->SchemasFor(t); });
  SLUICE_RETURN_IF_ERROR(connectors_->Start(*connector_configs));
  http_ = std::make_unique<HttpServer>(this, config_.io_threads);
  std::string host;
  uint16_t port;
  SLUICE_RETURN_IF_ERROR(ParseListen(config_.listen, &host, &port));
  loopback_ = IsLoopback(host);
  const TenantRegistry* registry = engine_->tenants();
  if (!loopback_ && !registry->any_key_created()) {
    // SPEC §7 safe default: open single-tenant mode only where only this machine can reach.
    return Status::PermissionDenied(
        "refusing to listen on " + config_.listen +
        " without API keys: anyone who can reach it could read and write every event. Create "
        "a key first (sluice keys create --tenant default --role admin --data-dir " +
        config_.data_dir + "), or listen on 127.0.0.1");
  }
  if (registry->any_key_created() && !registry->has_active_keys()) {
    // Not open: once a key has existed, open mode never comes back (Identify).
    spdlog::warn(
        "every API key of {} is revoked: every request will be refused until a key is "
        "created (sluice keys create --data-dir {}, with the server stopped)",
        config_.data_dir, config_.data_dir);
  }
  if (!config_.tls_cert_file.empty() || !config_.tls_key_file.empty()) {
    if (config_.tls_cert_file.empty() || config_.tls_key_file.empty()) {
      return Status::InvalidArgument("TLS needs both [server] tls_cert_file and tls_key_file");
    }
    SLUICE_RETURN_IF_ERROR(http_->EnableTls(config_.tls_cert_file, config_.tls_key_file));
  }
  SLUICE_RETURN_IF_ERROR(http_->Listen(host, port));
  http_->Start();
  maintenance_ = std::thread([this] {
    SetCurrentThreadName("maintenance");
    MaintenanceLoop();
  });
  std::string addr = host + ":" + std::to_string(http_->bound_port());
  SLUICE_RETURN_IF_ERROR(WriteFileAtomic(DataDirPaths(config_.data_dir).address(), addr + "\n"));
  ready_.store(true);
  spdlog::info("sluice listening on {}://{} (data dir {})",
               config_.tls_cert_file.empty() ? "http" : "https", addr, config_.data_dir);
  return Status::OK();
}

Status Server::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return Shutdown();
}

Status Server::Shutdown() {
  if (shut_down_) return Status::OK();
  shut_down_ = true;
  ready_.store(false);
  Status result;
  if (http_) {
    http_->StopAccepting();
    // Held acks go now: a stopping server answers what it has, it does not pace.
    if (ack_pacer_) ack_pacer_->Stop();
    // Every request already read is answered after its fsync; wait for them (bounded).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (http_->inflight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (http_->inflight() > 0) {
      spdlog::warn("shutdown: {} request(s) still unanswered after 30 s", http_->inflight());
    }
    // Give the io threads a moment to flush the last responses onto their sockets.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    http_->Stop();
  }
  stopping_.store(true);
  if (connectors_) connectors_->Stop();  // their last pages commit before the engine closes
  query_pool_.reset();                   // finishes queued queries before the store closes
  if (maintenance_.joinable()) maintenance_.join();
  spdlog::info("shutdown: HTTP stopped; closing the engine");
  if (engine_) result = engine_->Close();
  std::error_code ec;
  std::filesystem::remove(DataDirPaths(config_.data_dir).address(), ec);
  spdlog::info("shutdown complete");
  return result;
}

void Server::MaintenanceLoop() {
  auto last_snapshot = std::chrono::steady_clock::now();
  auto last_measure = std::chrono::steady_clock::time_point{};
  while (!stopping_.load()) {
    struct statvfs sv;
    if (statvfs(config_.data_dir.c_str(), &sv) == 0) {
      free_disk_bytes_.store(static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_snapshot >= std::chrono::seconds(config_.dedupe_snapshot_seconds)) {
      last_snapshot = now;
      Status s = ingestor_->Snapshot();
      if (!s.ok()) spdlog::error("dedupe snapshot failed: {}", s.ToString());
      s = log_->CollectGarbage();
      if (!s.ok()) spdlog::error("log garbage collection failed: {}", s.ToString());
    }
    if (now - last_measure >= std::chrono::seconds(config_.usage_interval_seconds)) {
      last_measure = now;
      MeasureStorage();
    }
    for (int i = 0; i < 20 && !stopping_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void Server::MeasureStorage() {
  if (engine_->store() == nullptr) return;
  bool any_quota = false;
  for (const TenantInfo& t : engine_->tenants()->ListTenants()) {
    any_quota |= t.limits.max_stored_bytes > 0;
  }
  if (!any_quota) return;  // a scan of the hot table is not free: only when it matters
  auto measured = engine_->store()->StoredBytesByTenant(StoreConsumer::kName);
  if (!measured.ok()) {
    spdlog::warn("measuring stored bytes per tenant failed: {}", measured.status().ToString());
    return;
  }
  // The sums hold the log below the store consumer's offset; what ingest added past it
  // (accepted, not yet taken by the store) stays counted on top (storage_meter.h).
  storage_.Replace(measured->by_tenant, measured->consumer_offset);
}

namespace {
int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void Server::NoteDurable() {
  const int64_t now = SteadyMicros();
  const uint64_t durable = log_->durable_offset();
  std::lock_guard<std::mutex> lock(durable_mu_);
  // One sample per millisecond is plenty against a lag bound of hundreds of them.
  if (!durable_samples_.empty() && now - durable_samples_.back().first < 1000) return;
  if (!durable_samples_.empty() && durable_samples_.back().second >= durable) return;
  durable_samples_.emplace_back(now, durable);
}

int64_t Server::ConsumerLagMicros() {
  // The store only: it is the slow consumer (rollups run ~3x its rate), and a rollup
  // backfill of a new metric holds the rollups back by design (its answers say
  // complete:false meanwhile); pacing ingest to a backfill would stall every client.
  const uint64_t applied = consumer_ ? consumer_->applied_offset() : UINT64_MAX;
  std::lock_guard<std::mutex> lock(durable_mu_);
  // Samples the consumers have passed say nothing more; the first one they have not
  // passed was taken just after the oldest byte they still owe became durable.
  while (!durable_samples_.empty() && durable_samples_.front().second <= applied) {
    durable_samples_.pop_front();
  }
  if (durable_samples_.empty()) return 0;
  return SteadyMicros() - durable_samples_.front().first;
}

std::string Server::PressureReason() const {
  // Runs on every request: one read of each offset. With a store, what matters is what
  // it has not taken yet (the dedupe consumer moves only every snapshot interval).
  const uint64_t end = log_->end_offset();
  const uint64_t consumed = consumer_ ? consumer_->applied_offset() : log_->MinConsumerOffset();
  const uint64_t unconsumed = end - std::min(end, consumed);
  // Every tenant (and /readyz, anyone) reads these: they say which limit, never the
  // server-wide figures, which tell one tenant how much the others send. The figures are
  // in /metrics (sluice_store_lag_bytes, sluice_free_disk_bytes) for the operator.
  if (unconsumed > config_.max_unconsumed_bytes) {
    return "ingest is paused: more log than [log] max_unconsumed_bytes allows is not yet "
           "stored; retry shortly";
  }
  if (free_disk_bytes_.load() < config_.min_free_disk_bytes) {
    return "ingest is paused: free disk is under [log] min_free_disk_bytes";
  }
  return {};
}

std::optional<HttpResponse> Server::Admit(const http::request_header<>& header,
                                          uint64_t content_length) {
  // A caller without the right key is answered before its body is read: an anonymous
  // client cannot make the server receive megabytes (Handle checks again, authoritatively).
  if (content_length > 0) {
    std::string_view target(header.target().data(), header.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    const Access access = RequiredAccess(header.method(), path, config_.public_metrics);
    if (access != Access::kPublic) {
      if (auto denied = Deny(header, access)) {
        metrics_.CountRequest(RouteLabel(target), denied->result_int());
        denied->keep_alive(false);
        return denied;
      }
    }
  }
  if (content_length > config_.max_request_bytes) {
    metrics_.CountRequest(RouteLabel(header.target()), 413);
    return JsonError(http::status::payload_too_large,
                     "request body of " + std::to_string(content_length) +
                         " bytes exceeds the limit of " +
                         std::to_string(config_.max_request_bytes) + " bytes",
                     header.version());
  }
  uint64_t now = inflight_bytes_.fetch_add(content_length) + content_length;
  if (now > config_.max_inflight_bytes && content_length > 0) {
    inflight_bytes_.fetch_sub(content_length);
    metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
    metrics_.CountRequest(RouteLabel(header.target()), 503);
    return Unavailable("server is busy: request bodies in memory exceed the configured limit",
                       header.version());
  }
  return std::nullopt;
}

void Server::Release(uint64_t content_length) { inflight_bytes_.fetch_sub(content_length); }

void Server::Handle(HttpRequest req, Reply reply) {
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const unsigned v = req.version();
  std::string route = RouteLabel(target);
  auto answer = [&](HttpResponse res) {
    metrics_.CountRequest(route, res.result_int());
    reply(std::move(res));
  };
  // SPEC §1.4: who is asking, and may they use this route, before anything else.
  const Access access = RequiredAccess(req.method(), path, config_.public_metrics);
  RequestPrincipal who;
  if (access != Access::kPublic) {
    if (auto denied = Deny(req, access, &who)) return answer(std::move(*denied));
    if (!who.open_mode && !who.key.is_operator()) {
      const TenantLimits limits = LimitsOf(who.key.tenant);
      RateDecision d = rate_limiter_.Charge(who.key.tenant, RateLimiter::Kind::kRequests,
                                            limits.requests_per_second, 1, NowMicros());
      if (!d.allowed) {
        return answer(TooManyRequests("requests/s", d, v));
      }
    }
  }
  const std::string tenant = who.open_mode ? kDefaultTenant : who.key.tenant;
  if (path == "/v1/events") {
    if (req.method() == http::verb::get) {
      if (consumer_ == nullptr) {
        return answer(
            JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
      }
      return HandleSearch(std::move(req), std::move(reply), tenant);
    }
    if (req.method() != http::verb::post) {
      return answer(JsonError(http::status::method_not_allowed,
                              "use POST /v1/events to send, GET /v1/events to search", v));
    }
    return HandleEvents(std::move(req), std::move(reply), tenant);
  }
  if (path == "/healthz") return answer(JsonResponse(http::status::ok, "{\"status\":\"ok\"}", v));
  if (path == "/readyz") {
    if (!ready_.load()) return answer(Unavailable("starting or stopping", v));
    std::string why = PressureReason();
    if (!why.empty()) return answer(Unavailable(why, v));
    return answer(JsonResponse(http::status::ok, "{\"status\":\"ready\"}", v));
  }
  if (path == "/metrics") {
    // Public by configuration, /metrics still shows tenants' names only to whom may see
    // every tenant: an operator key, or open mode (there is one tenant, and it is theirs).
    bool with_tenants = true;
    if (access == Access::kPublic) {
      auto caller = Identify(req);
      with_tenants = caller.ok() && (caller->open_mode || caller->key.is_operator());
    }
    return answer(Metrics(v, with_tenants));
  }
  if (path == "/v1/admin/event-ids") {
    if (req.method() != http::verb::get) {
      return answer(JsonError(http::status::method_not_allowed, "use GET", v));
    }
    if (consumer_ == nullptr) {
      return answer(
          JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
    }
    // A tenant key exports its own ids; only open mode may ask for another (or all).
    std::string scope = who.open_mode ? QueryParam(target, "tenant") : tenant;
    return HandleExportIds(std::move(req), std::move(reply), scope);
  }
  if (path == "/v1/admin/archive" || path == "/v1/admin/compact" || path == "/v1/admin/retention" ||
      path == "/v1/admin/rehydrate") {
    if (req.method() != http::verb::post) {
      return answer(JsonError(http::status::method_not_allowed, "use POST", v));
    }
    if (engine_->archiver() == nullptr) {
      return answer(
          JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
    }
    // Rehydrating touches one tenant's hours: an admin key's own; an operator may name any
    // or none (all tenants).
    auto scope = AdminTenant(who, QueryParam(target, "tenant"), /*optional=*/true);
    if (!scope.ok()) return answer(JsonError(http::status::forbidden, scope.status().message(), v));
    return HandleTier(std::string(path.substr(10)), std::move(req), std::move(reply), *scope,
                      /*detailed=*/who.open_mode || who.key.is_operator());
  }
  if (path == "/v1/admin/connectors" || path.rfind("/v1/admin/connectors/", 0) == 0) {
    // A tenant admin sees and moves only its own tenant's connectors.
    auto scope = AdminTenant(who, QueryParam(target, "tenant"), /*optional=*/false);
    if (!scope.ok())
      return answer(JsonError(HttpStatusFor(scope.status()), scope.status().message(), v));
    return answer(HandleConnectorAdmin(connectors_.get(), req, *scope));
  }
  if (path == "/v1/query") {
    if (req.method() != http::verb::post) {
      return answer(JsonError(http::status::method_not_allowed, "use POST /v1/query", v));
    }
    if (engine_->store() == nullptr) {
      return answer(
          JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
    }
    return HandleQuery(std::move(req), std::move(reply), tenant);
  }
  if (path.substr(0, 22) == "/v1/admin/dead-letters") {
    // DuckDB reads and a replay through ingest: off the io threads, like queries.
    auto shared = std::make_shared<HttpRequest>(std::move(req));
    const bool queued = query_pool_->TrySubmit([this, shared, who, reply, route] {
      auto res = HandleTenancyAdmin(*shared, who);
      HttpResponse out =
          res ? std::move(*res)
              : JsonError(http::status::not_found, "no such route", shared->version());
      metrics_.CountRequest(route, out.result_int());
      reply(std::move(out));
    });
    if (!queued) answer(Unavailable("too many queries are waiting; retry shortly", v));
    return;
  }
  if (path.substr(0, 10) == "/v1/admin/") {
    if (auto res = HandleTenancyAdmin(req, who)) return answer(std::move(*res));
  }
  if (path.starts_with("/v1/metrics/")) {
    return HandleMetricQuery(std::move(req), std::move(reply), tenant);
  }
  if (path == "/v1/admin/metrics" || path.starts_with("/v1/admin/metrics/")) {
    // A tenant admin defines its own metrics; an operator names the tenant.
    auto scope = AdminTenant(who, QueryParam(target, "tenant"), /*optional=*/false);
    if (!scope.ok()) {
      return answer(JsonError(HttpStatusFor(scope.status()), scope.status().message(), v));
    }
    return HandleMetricAdmin(std::move(req), std::move(reply), *scope);
  }
  answer(JsonError(http::status::not_found, "no route for " + std::string(path), v));
}

std::optional<HttpResponse> Server::Deny(const http::request_header<>& req, Access access,
                                         RequestPrincipal* who) const {
  auto p = Identify(req);
  if (!p.ok()) {
    HttpResponse res = JsonError(http::status::unauthorized, p.status().message(), req.version());
    res.set(http::field::www_authenticate, "Bearer realm=\"sluice\"");
    return res;
  }
  Status allowed = Authorize(*p, access);
  if (!allowed.ok()) return JsonError(http::status::forbidden, allowed.message(), req.version());
  if (who != nullptr) *who = std::move(*p);
  return std::nullopt;
}

Result<RequestPrincipal> Server::Identify(const http::request_header<>& req) const {
  TenantRegistry* registry = engine_->tenants();
  if (!registry->any_key_created()) {
    // Open mode: only until the first key is created, and only on loopback (Start refuses
    // anything else). Revoking every key later locks the server rather than opening it.
    if (!loopback_) return Status::Unauthenticated("no API key exists on this server");
    RequestPrincipal p;
    p.open_mode = true;
    p.key.tenant = kDefaultTenant;
    return p;
  }
  auto header = req[http::field::authorization];
  auto key = ApiKeyFromAuthorization(std::string_view(header.data(), header.size()));
  if (!key.ok()) return key.status();
  auto principal = registry->Authenticate(*key);
  if (!principal.ok()) return principal.status();
  RequestPrincipal p;
  p.key = std::move(*principal);
  return p;
}

TenantLimits Server::LimitsOf(const std::string& tenant) const {
  return engine_->tenants()->LimitsOf(tenant);
}

HttpResponse Server::TooManyRequests(const std::string& what, const RateDecision& d, unsigned v) {
  metrics_.rate_limited.fetch_add(1, std::memory_order_relaxed);
  const int retry = std::max(1, static_cast<int>(std::ceil(d.reset_seconds)));
  HttpResponse res = JsonError(http::status::too_many_requests,
                               "rate limit of " + FormatRate(d.limit) + " " + what +
                                   " exceeded; retry in " + std::to_string(retry) + " s",
                               v);
  res.set(http::field::retry_after, std::to_string(retry));
  SetRateLimitHeaders(d, &res);
  return res;
}

std::optional<HttpResponse> Server::OverQuota(const std::string& tenant, const TenantLimits& limits,
                                              unsigned v) {
  if (limits.max_stored_bytes == 0 || storage_.Get(tenant) < limits.max_stored_bytes) {
    return std::nullopt;
  }
  metrics_.rate_limited.fetch_add(1, std::memory_order_relaxed);
  HttpResponse res =
      JsonError(http::status::too_many_requests,
                "stored-bytes quota of " + std::to_string(limits.max_stored_bytes) +
                    " bytes reached; retention or a higher quota (max_stored_bytes) makes room",
                v);
  const std::string retry = std::to_string(config_.usage_interval_seconds);
  res.set(http::field::retry_after, retry);
  // The same headers as a rate 429, so clients that read them need no special case; the
  // resource header (GitHub's name for it) says this limit is bytes, not a rate. Reset is
  // when the next measurement may find room.
  res.set("X-RateLimit-Limit", std::to_string(limits.max_stored_bytes));
  res.set("X-RateLimit-Remaining", "0");
  res.set("X-RateLimit-Reset", retry);
  res.set("X-RateLimit-Resource", "stored-bytes");
  return res;
}

void Server::HandleTier(std::string step, HttpRequest req, Reply reply, std::string tenant,
                        bool detailed) {
  const unsigned v = req.version();
  std::string_view target(req.target().data(), req.target().size());
  int64_t from = 0, to = 0;
  auto fail = [&](http::status code, const std::string& why) {
    metrics_.CountRequest(RouteLabel(target), static_cast<unsigned>(code));
    reply(JsonError(code, why, v));
  };
  if (step == "rehydrate") {
    auto f = ParseTimestampString(QueryParam(target, "from"));
    auto t = ParseTimestampString(QueryParam(target, "to"));
    if (!f.ok() || !t.ok() || *t <= *f) {
      return fail(http::status::bad_request,
                  "rehydrate needs from= and to= (RFC 3339 or unix time), from before to");
    }
    from = *f;
    to = *t;
  }
  std::string route = RouteLabel(target);
  auto task = [this, step, from, to, tenant, route, v, reply, detailed]() {
    Archiver* a = engine_->archiver();
    ArchiveStats stats;
    Status s;
    if (step == "archive") s = a->Archive(&stats);
    if (step == "compact") s = a->Compact(&stats);
    if (step == "retention") {
      s = a->Evict(&stats);
      if (s.ok()) s = a->ApplyRetention(&stats);
    }
    if (step == "rehydrate") s = a->Rehydrate(from, to, tenant, &stats);
    HttpResponse res;
    if (s.ok()) {
      res = JsonResponse(
          http::status::ok,
          "{\"step\":\"" + step + "\",\"summary\":\"" + JsonEscape(stats.ToString()) + "\"}", v);
    } else {
      // DuckDB's text quotes SQL and absolute file paths: for the operator, who runs the
      // machine, not for a tenant admin (rehydrate), who gets the log's word for it.
      spdlog::error("{} failed: {}", step, s.ToString());
      res = JsonError(
          http::status::internal_server_error,
          detailed ? s.ToString() : "the " + step + " failed on the server (see the server's log)",
          v);
    }
    metrics_.CountRequest(route, res.result_int());
    reply(std::move(res));
  };
  if (!query_pool_->TrySubmit(std::move(task))) {
    metrics_.CountRequest(route, 503);
    reply(Unavailable("too many queries in flight", v));
  }
}

// POST /v1/query {"sql":"...","format":"json|csv|table"}: read-only SQL over the caller's
// tenant (query/sql_query.h), on query_pool_ so a long query never holds an io thread.
// Refused or invalid SQL and a query over the memory limit are 400; a query over the time
// limit is 504 (the server gave up waiting for it, as a gateway would); a full queue 503.
void Server::HandleQuery(HttpRequest req, Reply reply, const std::string& tenant) {
  const unsigned v = req.version();
  auto fail = [&](HttpResponse res) {
    metrics_.CountRequest("/v1/query", res.result_int());
    reply(std::move(res));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view sql;
  std::string_view format_name = "json";
  if (parser.parse(req.body()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return fail(JsonError(http::status::bad_request,
                          "the body must be a JSON object such as {\"sql\":\"SELECT ...\"}", v));
  }
  if (doc["sql"].get(sql) != simdjson::SUCCESS) {
    return fail(JsonError(http::status::bad_request, "\"sql\" (a string) is required", v));
  }
  if (auto f = doc["format"];
      f.error() != simdjson::NO_SUCH_FIELD && f.get(format_name) != simdjson::SUCCESS) {
    return fail(JsonError(http::status::bad_request, "\"format\" must be a string", v));
  }
  auto format = ParseSqlFormat(format_name);
  if (!format.ok()) return fail(JsonError(http::status::bad_request, format.status().message(), v));
  SqlQueryLimits limits;
  limits.timeout_ms = config_.query_timeout_ms;
  limits.max_rows = config_.query_max_rows;
  limits.memory_limit_bytes = config_.store_memory_limit_bytes;
  const bool queued = query_pool_->TrySubmit([this, reply, sql = std::string(sql), tenant, limits,
                                              format = *format, v] {
    auto result = RunSqlQuery(*engine_->store(), tenant, sql, limits);
    HttpResponse res;
    if (result.ok()) {
      res = HttpResponse{http::status::ok, v};
      res.set(http::field::content_type, format == SqlFormat::kJson  ? "application/json"
                                         : format == SqlFormat::kCsv ? "text/csv; charset=utf-8"
                                                                     : "text/plain; charset=utf-8");
      res.body() = FormatSqlResult(*result, format);
      res.prepare_payload();
    } else {
      const Status& st = result.status();
      http::status code = http::status::internal_server_error;
      if (st.code() == Status::Code::kInvalidArgument ||
          st.code() == Status::Code::kResourceExhausted) {
        code = http::status::bad_request;
      } else if (st.code() == Status::Code::kDeadlineExceeded) {
        code = http::status::gateway_timeout;
      } else {
        spdlog::error("query failed: {}", st.ToString());
      }
      res = JsonError(code, st.message(), v);
    }
    metrics_.CountRequest("/v1/query", res.result_int());
    reply(std::move(res));
  });
  if (!queued) {
    metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
    return fail(Unavailable("too many queries are waiting; retry shortly", v));
  }
}

void Server::HandleEvents(HttpRequest req, Reply reply, const std::string& tenant) {
  const auto start = std::chrono::steady_clock::now();
  const unsigned v = req.version();
  auto fail = [&](HttpResponse res) {
    metrics_.CountRequest("/v1/events", res.result_int());
    reply(std::move(res));
  };
  metrics_.ingest_wire_bytes.fetch_add(req.body().size(), std::memory_order_relaxed);

  std::string why = PressureReason();
  if (!why.empty()) {
    metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
    return fail(Unavailable(why, v));
  }
  // A tenant over its events/s is refused before its body is even decompressed, so a
  // flood costs little of what other tenants need (rate_limiter.h).
  const TenantLimits limits = LimitsOf(tenant);
  if (limits.events_per_second > 0) {
    RateDecision d = rate_limiter_.Peek(tenant, RateLimiter::Kind::kEvents,
                                        limits.events_per_second, NowMicros());
    if (!d.allowed) return fail(TooManyRequests("events/s", d, v));
  }
  if (auto over = OverQuota(tenant, limits, v)) return fail(std::move(*over));

  std::string decoded;
  std::string_view body = req.body();
  // Spare capacity past the body: with kBodyPadding of it, the parser skips its copy.
  static_assert(RequestBody::kSpareBytes >= kBodyPadding);
  size_t readable_after = req.body().capacity() - req.body().size();
  auto enc = req[http::field::content_encoding];
  if (!enc.empty()) {
    Status s = Decompress(std::string_view(enc.data(), enc.size()), req.body(),
                          config_.max_request_bytes, &decoded);
    if (!s.ok()) {
      return fail(JsonError(s.code() == Status::Code::kResourceExhausted
                                ? http::status::payload_too_large
                                : http::status::bad_request,
                            s.message(), v));
    }
    body = decoded;
    readable_after = decoded.capacity() - decoded.size();
  }
  metrics_.ingest_bytes.fetch_add(body.size(), std::memory_order_relaxed);

  auto ctype = req[http::field::content_type];
  BodyFormat format = BodyFormat::kAuto;
  if (ctype.find("ndjson") != std::string_view::npos ||
      ctype.find("jsonl") != std::string_view::npos ||
      ctype.find("json-seq") != std::string_view::npos) {
    format = BodyFormat::kNdjson;
  }
  ParseContext ctx;
  ctx.tenant = tenant;
  ctx.source = "http";
  // Held for the parse: a schema change swaps the map, never edits it (schema_registry.h).
  const std::shared_ptr<const SchemaMap> schemas = engine_->schemas()->SchemasFor(tenant);
  ctx.schemas = schemas.get();
  ctx.received_at_us = NowMicros();
  ctx.limits.max_event_bytes = config_.max_event_bytes;
  // Per thread and reused: ParseBody recycles the previous request's events, so their
  // strings are not allocated again (nothing below keeps a reference past Submit).
  thread_local ParsedBody parsed;
  Status ps = ParseBody(body, format, ctx, &parsed, readable_after);
  if (!ps.ok()) {
    metrics_.events_rejected.fetch_add(1, std::memory_order_relaxed);
    return fail(JsonError(ps.code() == Status::Code::kResourceExhausted
                              ? http::status::payload_too_large
                              : http::status::bad_request,
                          ps.message(), v));
  }
  metrics_.events_rejected.fetch_add(parsed.errors.size(), std::memory_order_relaxed);
  std::string errors = "[";
  for (size_t i = 0; i < parsed.errors.size(); ++i) {
    if (i > 0) errors += ',';
    errors += "{\"index\":" + std::to_string(parsed.errors[i].index) + ",\"error\":\"" +
              JsonEscape(parsed.errors[i].error) + "\"}";
  }
  errors += "]";
  RateDecision rate;
  if (limits.events_per_second > 0) {
    // Admitted by the Peek above: pays in full even if a concurrent request got there first.
    // Every event offered pays, refused ones too: an invalid event costs parsing, and a
    // dead letter costs a log append, an fsync and a row, like an accepted one.
    rate = rate_limiter_.Consume(tenant, RateLimiter::Kind::kEvents, limits.events_per_second,
                                 static_cast<double>(parsed.total), NowMicros());
  }
  // Events a schema refused are logged as dead letters (dead_letter_codec.h); the answer
  // waits for them as for accepted events, so "refused" always means "kept for replay".
  uint64_t dead_letter_offset = 0;
  if (!parsed.rejected.empty()) {
    auto off = log_->Append(RecordType::kDeadLetter, EncodeDeadLetters(parsed.rejected));
    if (!off.ok()) {
      if (off.status().code() == Status::Code::kUnavailable) {
        metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
        return fail(Unavailable(kLogBusy, v));
      }
      spdlog::error("dead letters not logged: {}", off.status().ToString());
      return fail(
          JsonError(http::status::internal_server_error, "the event log could not be written", v));
    }
    dead_letter_offset = *off;
    metrics_.events_dead_lettered.fetch_add(parsed.rejected.size(), std::memory_order_relaxed);
    if (limits.max_stored_bytes > 0) {  // dead letters are stored bytes of the tenant too
      uint64_t bytes = 0;
      for (const RejectedEvent& r : parsed.rejected) bytes += StoredBytesOf(r);
      storage_.Add(tenant, bytes, dead_letter_offset);
    }
  }
  if (parsed.events.empty()) {
    std::string msg = parsed.total == 0 ? "the body holds no events" : "no valid events";
    std::string body =
        "{\"error\":\"" + msg + "\",\"accepted\":0,\"duplicates\":0,\"errors\":" + errors + "}";
    if (dead_letter_offset == 0) return fail(JsonResponse(http::status::bad_request, body, v));
    log_->OnDurable(dead_letter_offset, [this, reply = std::move(reply), body = std::move(body),
                                         v](const Status& st) {
      HttpResponse res = st.ok() ? JsonResponse(http::status::bad_request, body, v)
                                 : JsonError(http::status::internal_server_error,
                                             "the event log could not be synced", v);
      metrics_.CountRequest("/v1/events", res.result_int());
      reply(std::move(res));
    });
    return;
  }

  uint64_t stored_bytes = 0;
  if (limits.max_stored_bytes > 0) {
    for (const Event& e : parsed.events) stored_bytes += StoredBytesOf(e);
  }
  auto submitted = ingestor_->Submit(&parsed.events);
  // The per-thread body keeps its events until the next request recycles them; a large
  // request's are let go now rather than pinned.
  if (parsed.events.size() > kMaxRecycledEvents) std::vector<Event>().swap(parsed.events);
  // Tagged with the record's end, so a measurement keeps counting it until the store has
  // taken it. All duplicates: nothing was logged (wait_offset is merely the log's end).
  // Some: they are counted too, until the store passes the record.
  if (submitted.ok() && stored_bytes > 0 && submitted->accepted > 0) {
    storage_.Add(tenant, stored_bytes, submitted->wait_offset);
  }
  if (!submitted.ok()) {
    if (submitted.status().code() == Status::Code::kUnavailable) {
      metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ingest paused: {}", submitted.status().message());
      return fail(Unavailable(kLogBusy, v));
    }
    spdlog::error("ingest failed: {}", submitted.status().ToString());
    return fail(
        JsonError(http::status::internal_server_error, "the event log could not be written", v));
  }
  const SubmitResult r = *submitted;
  std::string ok_body = "{\"accepted\":" + std::to_string(r.accepted) +
                        ",\"duplicates\":" + std::to_string(r.duplicates) +
                        ",\"errors\":" + errors + "}";
  // The acknowledgement leaves only from here: after the fsync that covers this request.
  log_->OnDurable(std::max(r.wait_offset, dead_letter_offset), [this, reply = std::move(reply),
                                                                ok_body = std::move(ok_body), r,
                                                                start, v, rate](const Status& st) {
    if (!st.ok()) {
      spdlog::error("log sync failed: {}", st.ToString());
      metrics_.CountRequest("/v1/events", 500);
      reply(JsonError(http::status::internal_server_error, "the event log could not be synced", v));
      return;
    }
    metrics_.events_accepted.fetch_add(r.accepted, std::memory_order_relaxed);
    metrics_.events_duplicate.fetch_add(r.duplicates, std::memory_order_relaxed);
    metrics_.ack_latency.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    metrics_.CountRequest("/v1/events", 202);
    HttpResponse res = JsonResponse(http::status::accepted, ok_body, v);
    SetRateLimitHeaders(rate, &res);
    if (!ack_pacer_) return reply(std::move(res));
    NoteDurable();
    // Durable now; sent once the store keeps up (ack_pacer.h).
    auto held = std::make_shared<std::pair<Reply, HttpResponse>>(std::move(reply), std::move(res));
    ack_pacer_->Send([held] { held->first(std::move(held->second)); });
  });
}

// Every stored event_id, one per line. Written to an unlinked temp file and streamed from
// there, so memory stays constant however many ids there are; the work runs off the io
// threads. It first waits for the store to take everything acknowledged so far.
void Server::HandleExportIds(HttpRequest req, Reply reply, std::string tenant) {
  const unsigned v = req.version();
  std::thread([this, reply = std::move(reply), tenant, v]() mutable {
    SetCurrentThreadName("export-ids");
    auto answer = [&](AnyResponse res, unsigned status) {
      metrics_.CountRequest("/v1/admin/event-ids", status);
      reply(std::move(res));
    };
    const uint64_t acked = log_->durable_offset();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (consumer_->applied_offset() < acked && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (consumer_->applied_offset() < acked) {
      return answer(Unavailable("the store is still catching up with the log", v), 503);
    }
    std::string path = config_.data_dir + "/export-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) {
      return answer(JsonError(http::status::internal_server_error, "cannot create a temp file", v),
                    500);
    }
    FILE* f = fdopen(fd, "w");
    Status s = engine_->store()->ForEachEventId(tenant, [&](std::string_view, std::string_view id) {
      std::fwrite(id.data(), 1, id.size(), f);
      std::fputc('\n', f);
    });
    bool written = std::fflush(f) == 0;
    std::fclose(f);
    FileResponse res{http::status::ok, v};
    boost::beast::error_code ec;
    if (s.ok() && written) res.body().open(path.c_str(), boost::beast::file_mode::scan, ec);
    ::unlink(path.c_str());  // the open descriptor keeps the bytes until sent
    if (!s.ok() || !written || ec) {
      return answer(JsonError(http::status::internal_server_error,
                              "export failed: " + (s.ok() ? ec.message() : s.message()), v),
                    500);
    }
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.prepare_payload();
    answer(std::move(res), 200);
  }).detach();
}

void Server::HandleSearch(HttpRequest req, Reply reply, const std::string& tenant) {
  const unsigned v = req.version();
  auto answer = [this, reply](HttpResponse res) {
    metrics_.CountRequest("/v1/events", res.result_int());
    reply(std::move(res));
  };
  // Parsing is cheap and needs no store: a bad request is answered here, not queued.
  auto params = ParseQueryString(std::string_view(req.target().data(), req.target().size()));
  if (!params.ok()) {
    return answer(JsonError(http::status::bad_request, params.status().message(), v));
  }
  auto request = ParseEventSearchRequest(tenant, *params, config_.search_max_limit);
  if (!request.ok()) {
    return answer(JsonError(http::status::bad_request, request.status().message(), v));
  }
  const bool queued = query_pool_->TrySubmit([this, answer, v, r = std::move(*request)] {
    EventSearchOptions options;
    options.log = log_;
    options.log_tail_bytes = config_.search_log_tail_bytes;
    auto page = SearchEvents(*engine_->store(), r, options);
    if (!page.ok()) {
      spdlog::error("event search failed: {}", page.status().ToString());
      // DuckDB's text stays in the log: it may quote SQL and file paths.
      return answer(JsonError(http::status::internal_server_error, "the search failed", v));
    }
    answer(JsonResponse(http::status::ok, page->ToJson(), v));
  });
  if (!queued) answer(Unavailable("too many queries are waiting; retry shortly", v));
}

HttpResponse Server::Metrics(unsigned version, bool with_tenants) {
  std::string out;
  out.reserve(4096);
  metrics_.RenderRequests(&out);  // labelled by route and status only
  if (connectors_ && with_tenants) out += connectors_->MetricsText();
  RenderMetric(&out, "sluice_events_accepted_total", "counter",
               "Events newly stored (acknowledged after fsync).",
               static_cast<double>(metrics_.events_accepted.load()));
  RenderMetric(&out, "sluice_events_duplicate_total", "counter",
               "Events acknowledged as duplicates of an already stored event_id.",
               static_cast<double>(metrics_.events_duplicate.load()));
  RenderMetric(&out, "sluice_events_rejected_total", "counter",
               "Events (or whole bodies) rejected as invalid.",
               static_cast<double>(metrics_.events_rejected.load()));
  RenderMetric(&out, "sluice_ingest_bytes_total", "counter",
               "Request body bytes after decompression.",
               static_cast<double>(metrics_.ingest_bytes.load()));
  RenderMetric(&out, "sluice_ingest_wire_bytes_total", "counter", "Request body bytes as received.",
               static_cast<double>(metrics_.ingest_wire_bytes.load()));
  RenderMetric(&out, "sluice_backpressure_rejections_total", "counter",
               "Requests answered 503 because of a configured limit.",
               static_cast<double>(metrics_.backpressure_503.load()));
  if (ack_pacer_) {
    RenderMetric(&out, "sluice_acks_paced_total", "counter",
                 "202s held back because the store lagged ([store] max_lag_ms).",
                 static_cast<double>(ack_pacer_->held_total()));
    RenderMetric(&out, "sluice_acks_paced_timeout_total", "counter",
                 "Held 202s sent after [store] max_ack_delay_ms although the lag persisted.",
                 static_cast<double>(ack_pacer_->released_late()));
    RenderMetric(&out, "sluice_acks_held", "gauge", "202s held back right now.",
                 static_cast<double>(ack_pacer_->held_now()));
  }
  RenderMetric(&out, "sluice_rate_limited_total", "counter",
               "Requests answered 429 because a tenant exceeded its rate limit.",
               static_cast<double>(metrics_.rate_limited.load()));
  RenderMetric(&out, "sluice_events_dead_lettered_total", "counter",
               "Events refused by their type's schema and kept in the dead-letter table.",
               static_cast<double>(metrics_.events_dead_lettered.load()));
  metrics_.ack_latency.Render("sluice_ack_latency_seconds",
                              "Time from request read to durable acknowledgement.", &out);
  RenderMetric(&out, "sluice_log_bytes", "gauge", "Bytes in log segment files.",
               static_cast<double>(log_->disk_bytes()));
  RenderMetric(&out, "sluice_log_end_offset", "gauge", "Log offset appended so far.",
               static_cast<double>(log_->end_offset()));
  RenderMetric(&out, "sluice_log_durable_offset", "gauge", "Log offset fsync'd so far.",
               static_cast<double>(log_->durable_offset()));
  RenderMetric(&out, "sluice_log_fsyncs_total", "counter", "Group commits (fdatasync calls).",
               static_cast<double>(log_->fsyncs()));
  RenderMetric(&out, "sluice_dedupe_ids", "gauge", "Event ids remembered by the dedupe index.",
               static_cast<double>(ingestor_->dedupe_size()));
  RenderMetric(&out, "sluice_dedupe_memory_bytes", "gauge", "Memory held by the dedupe index.",
               static_cast<double>(ingestor_->dedupe_memory_bytes()));
  RenderMetric(&out, "sluice_dedupe_evicted_total", "counter",
               "Ids forgotten because the dedupe window is full.",
               static_cast<double>(ingestor_->dedupe_evicted()));
  if (consumer_) {
    RenderMetric(&out, "sluice_store_rows_total", "counter", "Events written to the store.",
                 static_cast<double>(consumer_->rows_written()));
    RenderMetric(&out, "sluice_store_saturated", "gauge",
                 "1 while the store consumer keeps DuckDB on one thread because its batches "
                 "come full ([store] threads = 0).",
                 consumer_->threads_narrowed() ? 1.0 : 0.0);
    RenderMetric(
        &out, "sluice_store_lag_bytes", "gauge", "Log bytes not yet in the store.",
        static_cast<double>(log_->durable_offset() -
                            std::min(log_->durable_offset(), consumer_->applied_offset())));
  }
  RenderMetric(&out, "sluice_inflight_body_bytes", "gauge", "Request body bytes held in memory.",
               static_cast<double>(inflight_bytes_.load()));
  if (free_disk_bytes_.load() != UINT64_MAX) {  // measured once a second
    RenderMetric(&out, "sluice_free_disk_bytes", "gauge",
                 "Free bytes on the data dir's file system (ingest pauses under "
                 "[log] min_free_disk_bytes).",
                 static_cast<double>(free_disk_bytes_.load()));
  }
  RenderRollupMetrics(&out);
  HttpResponse res{http::status::ok, version};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(out);
  res.prepare_payload();
  return res;
}

}  // namespace sluice
