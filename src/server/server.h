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
#include <memory>
#include <string>
#include <thread>

#include "common/config.h"
#include "common/status.h"
#include "server/blocking_pool.h"
#include "server/engine.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "sources/connector_runner.h"

namespace sluice {

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
  void HandleEvents(HttpRequest req, Reply reply);
  void HandleExportIds(HttpRequest req, Reply reply);
  // POST /v1/admin/{archive,compact,retention,rehydrate}: one tiering step now.
  void HandleTier(std::string step, HttpRequest req, Reply reply);
  // GET /v1/events: event search (query/event_search.h) on query_pool_.
  void HandleSearch(HttpRequest req, Reply reply, const std::string& tenant);
  void HandleQuery(HttpRequest req, Reply reply);
  HttpResponse Metrics(unsigned version);
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
  ServerMetrics metrics_;
  std::unique_ptr<ConnectorRunner> connectors_;  // [[connector]] tables of the config

  std::atomic<uint64_t> inflight_bytes_{0};
  std::atomic<uint64_t> free_disk_bytes_{UINT64_MAX};
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::thread maintenance_;
  bool shut_down_ = false;
};

}  // namespace sluice
