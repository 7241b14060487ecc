#include "server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <simdjson.h>

#include <cstdio>

#include <chrono>
#include <filesystem>

#include "common/clock.h"
#include "ingest/decompress.h"
#include "ingest/envelope_parser.h"
#include "ingest/timestamp.h"
#include "query/event_search.h"
#include "query/query_string.h"
#include "query/sql_query.h"
#include "server/connector_routes.h"

namespace sluice {

namespace {

HttpResponse JsonResponse(http::status status, std::string body, unsigned version) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

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
  auto connector_configs = LoadConnectorsFromConfig(config_.path);
  if (!connector_configs.ok()) return connector_configs.status();
  connectors_ = std::make_unique<ConnectorRunner>(ingestor_, log_, engine_->store());
  SLUICE_RETURN_IF_ERROR(connectors_->Start(*connector_configs));
  http_ = std::make_unique<HttpServer>(this, config_.io_threads);
  std::string host;
  uint16_t port;
  SLUICE_RETURN_IF_ERROR(ParseListen(config_.listen, &host, &port));
  SLUICE_RETURN_IF_ERROR(http_->Listen(host, port));
  http_->Start();
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  std::string addr = host + ":" + std::to_string(http_->bound_port());
  SLUICE_RETURN_IF_ERROR(WriteFileAtomic(DataDirPaths(config_.data_dir).address(), addr + "\n"));
  ready_.store(true);
  spdlog::info("sluice listening on http://{} (data dir {})", addr, config_.data_dir);
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
    for (int i = 0; i < 20 && !stopping_.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::string Server::PressureReason() const {
  // Runs on every request: one read of each offset. With a store, what matters is what
  // it has not taken yet (the dedupe consumer moves only every snapshot interval).
  const uint64_t end = log_->end_offset();
  const uint64_t consumed = consumer_ ? consumer_->applied_offset() : log_->MinConsumerOffset();
  const uint64_t unconsumed = end - std::min(end, consumed);
  if (unconsumed > config_.max_unconsumed_bytes) {
    return "ingest is paused: " + std::to_string(unconsumed >> 20) +
           " MiB of log not yet stored (limit " +
           std::to_string(config_.max_unconsumed_bytes >> 20) + " MiB)";
  }
  if (free_disk_bytes_.load() < config_.min_free_disk_bytes) {
    return "ingest is paused: free disk " + std::to_string(free_disk_bytes_.load() >> 20) +
           " MiB is under the configured minimum of " +
           std::to_string(config_.min_free_disk_bytes >> 20) + " MiB";
  }
  return {};
}

std::optional<HttpResponse> Server::Admit(const http::request_header<>& header,
                                          uint64_t content_length) {
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
  if (path == "/v1/events") {
    if (req.method() == http::verb::get) {
      if (consumer_ == nullptr) {
        return answer(
            JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
      }
      // Until API keys exist every request is the embedded mode's single tenant.
      return HandleSearch(std::move(req), std::move(reply), "default");
    }
    if (req.method() != http::verb::post) {
      return answer(JsonError(http::status::method_not_allowed,
                              "use POST /v1/events to send, GET /v1/events to search", v));
    }
    return HandleEvents(std::move(req), std::move(reply));
  }
  if (path == "/healthz") return answer(JsonResponse(http::status::ok, "{\"status\":\"ok\"}", v));
  if (path == "/readyz") {
    if (!ready_.load()) return answer(Unavailable("starting or stopping", v));
    std::string why = PressureReason();
    if (!why.empty()) return answer(Unavailable(why, v));
    return answer(JsonResponse(http::status::ok, "{\"status\":\"ready\"}", v));
  }
  if (path == "/metrics") return answer(Metrics(v));
  if (path == "/v1/admin/event-ids") {
    if (req.method() != http::verb::get) {
      return answer(JsonError(http::status::method_not_allowed, "use GET", v));
    }
    if (consumer_ == nullptr) {
      return answer(
          JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
    }
    return HandleExportIds(std::move(req), std::move(reply));
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
    return HandleTier(std::string(path.substr(10)), std::move(req), std::move(reply));
  }
  if (path == "/v1/admin/connectors" || path.rfind("/v1/admin/connectors/", 0) == 0) {
    return answer(HandleConnectorAdmin(connectors_.get(), req, "default"));
  }
  if (path == "/v1/query") {
    if (req.method() != http::verb::post) {
      return answer(JsonError(http::status::method_not_allowed, "use POST /v1/query", v));
    }
    if (engine_->store() == nullptr) {
      return answer(
          JsonError(http::status::conflict, "the store is disabled ([store] enabled)", v));
    }
    return HandleQuery(std::move(req), std::move(reply));
  }
  answer(JsonError(http::status::not_found, "no route for " + std::string(path), v));
}

void Server::HandleTier(std::string step, HttpRequest req, Reply reply) {
  const unsigned v = req.version();
  std::string_view target(req.target().data(), req.target().size());
  int64_t from = 0, to = 0;
  const std::string tenant = QueryParam(target, "tenant");
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
  auto task = [this, step, from, to, tenant, route, v, reply]() {
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
    HttpResponse res = s.ok() ? JsonResponse(http::status::ok,
                                             "{\"step\":\"" + step + "\",\"summary\":\"" +
                                                 JsonEscape(stats.ToString()) + "\"}",
                                             v)
                              : JsonError(http::status::internal_server_error, s.ToString(), v);
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
void Server::HandleQuery(HttpRequest req, Reply reply) {
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
  // Every request is tenant "default" until API keys exist (SPEC §7).
  std::string tenant = "default";
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

void Server::HandleEvents(HttpRequest req, Reply reply) {
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

  std::string decoded;
  std::string_view body = req.body();
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
  ctx.tenant = "default";
  ctx.source = "http";
  ctx.received_at_us = NowMicros();
  ctx.limits.max_event_bytes = config_.max_event_bytes;
  ParsedBody parsed;
  Status ps = ParseBody(body, format, ctx, &parsed);
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
  if (parsed.events.empty()) {
    std::string msg = parsed.total == 0 ? "the body holds no events" : "no valid events";
    return fail(JsonResponse(http::status::bad_request,
                             "{\"error\":\"" + msg + "\",\"accepted\":0,\"duplicates\":0," +
                                 "\"errors\":" + errors + "}",
                             v));
  }

  auto submitted = ingestor_->Submit(&parsed.events);
  if (!submitted.ok()) {
    if (submitted.status().code() == Status::Code::kUnavailable) {
      metrics_.backpressure_503.fetch_add(1, std::memory_order_relaxed);
      return fail(Unavailable(submitted.status().message(), v));
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
  log_->OnDurable(r.wait_offset, [this, reply = std::move(reply), ok_body = std::move(ok_body), r,
                                  start, v](const Status& st) {
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
    reply(JsonResponse(http::status::accepted, ok_body, v));
  });
}

// Every stored event_id, one per line. Written to an unlinked temp file and streamed from
// there, so memory stays constant however many ids there are; the work runs off the io
// threads. It first waits for the store to take everything acknowledged so far.
void Server::HandleExportIds(HttpRequest req, Reply reply) {
  std::string tenant;
  std::string_view target(req.target().data(), req.target().size());
  if (auto p = target.find("tenant="); p != std::string_view::npos) {
    tenant = std::string(target.substr(p + 7, target.find('&', p) - (p + 7)));
  }
  const unsigned v = req.version();
  std::thread([this, reply = std::move(reply), tenant, v]() mutable {
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
    auto page = SearchEvents(*engine_->store(), r);
    if (!page.ok()) {
      spdlog::error("event search failed: {}", page.status().ToString());
      // DuckDB's text stays in the log: it may quote SQL and file paths.
      return answer(JsonError(http::status::internal_server_error, "the search failed", v));
    }
    answer(JsonResponse(http::status::ok, page->ToJson(), v));
  });
  if (!queued) answer(Unavailable("too many queries are waiting; retry shortly", v));
}

HttpResponse Server::Metrics(unsigned version) {
  std::string out;
  out.reserve(4096);
  metrics_.RenderRequests(&out);
  if (connectors_) out += connectors_->MetricsText();
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
    RenderMetric(
        &out, "sluice_store_lag_bytes", "gauge", "Log bytes not yet in the store.",
        static_cast<double>(log_->durable_offset() -
                            std::min(log_->durable_offset(), consumer_->applied_offset())));
  }
  RenderMetric(&out, "sluice_inflight_body_bytes", "gauge", "Request body bytes held in memory.",
               static_cast<double>(inflight_bytes_.load()));
  HttpResponse res{http::status::ok, version};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(out);
  res.prepare_payload();
  return res;
}

}  // namespace sluice
