// Server: `sluice serve` — owns the data directory and wires the pieces of SPEC §4:
//
//   HTTP (http_server.h) ─► decompress ─► ParseBody ─► Ingestor (dedupe + log append)
//        ◄── 202 from Log::OnDurable once the group fsync covers the request
//   Log ─► StoreConsumer (DuckDB)        Ingestor ─► dedupe snapshots (maintenance thread)
//
// Backpressure (SPEC §1.6) is decided here, before a body is read or logged: request
// bodies in memory, unconsumed log bytes and free disk each have a configured limit, and
// crossing one answers 503 with Retry-After until the pressure goes.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/status.h"
#include "rollup/metric_reader.h"
#include "server/access_policy.h"
#include "server/ack_pacer.h"
#include "server/blocking_pool.h"
#include "server/engine.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "sources/connector_runner.h"
#include "tenancy/rate_limiter.h"
#include "tenancy/storage_meter.h"

namespace sluice {

// X-RateLimit-* as GitHub and most APIs send them: the limit per second, what is left, and
// seconds until the bucket is full again. Nothing when the tenant has no limit.
void SetRateLimitHeaders(const RateDecision& d, HttpResponse* res);

class Server : public Router {
 public:
  explicit Server(Config config);
  ~Server() override;

  // Opens (and recovers) the data directory and starts listening.
  Status Start();
  // Blocks until SIGINT/SIGTERM, then shuts down gracefully: stop accepting, answer every
  // request already read (each after its fsync), snapshot dedupe, flush the log.
  // Signals must have been blocked (BlockShutdownSignals) before any thread started.
  Status RunUntilSignal();
  Status Shutdown();
  uint16_t port() const { return http_ ? http_->bound_port() : 0; }

  static void BlockShutdownSignals();

  // Router
  std::optional<HttpResponse> Admit(const http::request_header<>& header,
                                    uint64_t content_length) override;
  void Handle(HttpRequest req, Reply reply) override;
  void Release(uint64_t content_length) override;
  uint64_t body_limit() const override { return config_.max_request_bytes; }

 private:
  void HandleEvents(HttpRequest req, Reply reply, const std::string& tenant);
  // `tenant` empty = every tenant (open mode only).
  void HandleExportIds(HttpRequest req, Reply reply, std::string tenant);
  // POST /v1/admin/{archive,compact,retention,rehydrate}: one tiering step now; rehydrate
  // only `tenant`'s hours (all when empty). `detailed`: a failure's own text in the answer
  // (operator, open mode); otherwise only in the log.
  void HandleTier(std::string step, HttpRequest req, Reply reply, std::string tenant,
                  bool detailed);
  // GET /v1/events: event search (query/event_search.h) on query_pool_.
  void HandleSearch(HttpRequest req, Reply reply, const std::string& tenant);
  void HandleQuery(HttpRequest req, Reply reply, const std::string& tenant);
  // /v1/admin/{tenants,keys,schemas,dead-letters} (admin_routes.cc); nullopt when `req`
  // is none of them.
  std::optional<HttpResponse> HandleTenancyAdmin(const HttpRequest& req,
                                                 const RequestPrincipal& who);
  // The key's principal, or open mode (access_policy.h); Unauthenticated with the reason.
  Result<RequestPrincipal> Identify(const http::request_header<>& req) const;
  // The 401/403 for a caller that may not use a route needing `access`; else nullopt and
  // the caller in *who (when given).
  std::optional<HttpResponse> Deny(const http::request_header<>& req, Access access,
                                   RequestPrincipal* who = nullptr) const;
  TenantLimits LimitsOf(const std::string& tenant) const;
  HttpResponse TooManyRequests(const std::string& what, const RateDecision& d, unsigned v);
  // The 429 for a tenant at its stored-bytes quota; nullopt while under it (or unlimited).
  std::optional<HttpResponse> OverQuota(const std::string& tenant, const TenantLimits& limits,
                                        unsigned v);
  // Re-measures stored bytes per tenant when any tenant has a quota (maintenance thread).
  void MeasureStorage();
  // `with_tenants` false: the public /metrics ([auth] public_metrics, no operator key),
  // without any series that names a tenant (the connectors' tenant="..." labels).
  HttpResponse Metrics(unsigned version, bool with_tenants);
  // GET /v1/metrics/{name}, /v1/admin/metrics[/{name}] (metrics_handlers.cc).
  void HandleMetricQuery(HttpRequest req, Reply reply, const std::string& tenant);
  void HandleMetricAdmin(HttpRequest req, Reply reply, const std::string& tenant);
  void RenderRollupMetrics(std::string* out);
  // How long ago the oldest durable event that the store has not taken became durable,
  // in µs; 0 when it is caught up. From samples of the
  // durable offset taken as acks go out (NoteDurable), so it reads a few µs of state.
  int64_t ConsumerLagMicros();
  void NoteDurable();
  // Non-empty reason while ingest must be refused with 503.
  std::string PressureReason() const;
  void MaintenanceLoop();

  Config config_;
  std::unique_ptr<Engine> engine_;
  Log* log_ = nullptr;                 // engine_'s
  Ingestor* ingestor_ = nullptr;       // engine_'s
  StoreConsumer* consumer_ = nullptr;  // engine_'s; null when the store is disabled
  std::unique_ptr<HttpServer> http_;
  // Search and SQL run here, off the io threads (blocking_pool.h).
  std::unique_ptr<BlockingPool> query_pool_;
  std::unique_ptr<MetricReader> metric_reader_;  // null when rollups are disabled
  ServerMetrics metrics_;
  RateLimiter rate_limiter_;
  StorageMeter storage_;  // for stored-bytes quotas; measured only while one is set
  bool loopback_ = true;  // listening only where this machine alone can connect
  std::unique_ptr<ConnectorRunner> connectors_;  // [[connector]] tables of the config
  // Holds 202s while the consumers lag ([store] max_lag_bytes); null without a store.
  std::unique_ptr<AckPacer> ack_pacer_;
  std::mutex durable_mu_;
  std::deque<std::pair<int64_t, uint64_t>> durable_samples_;  // (steady µs, durable offset)

  std::atomic<uint64_t> inflight_bytes_{0};
  std::atomic<uint64_t> free_disk_bytes_{UINT64_MAX};
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::thread maintenance_;
  bool shut_down_ = false;
};

}  // namespace sluice
