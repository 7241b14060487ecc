// The floor under HTTP push ingest: what sluice's own HTTP layer costs with less and less
// of the ingest path behind it, driven by the same `sluice bench` loader as serve.
//
// Each stage adds one piece of what POST /v1/events does, in the order serve does it:
//   http    read the request, answer 202 with a fixed body (Beast, sockets, loader)
//   parse   + ParseBody: split, parse, validate and normalize every event
//   log     + append the body to a real Log and answer after the fsync that covers it
//           (no parse: the raw body is the record)
// and `sluice serve` with the store off is the whole path (parse, dedupe, encode, log).
// If even `http` cannot reach a rate, no work behind it can, on this machine: that bounds
// what the ingest targets can ask of the rest (bench/README.md, "The ingest floor").
//
//   ingest_floor STAGE PORT [DIR]     serves until SIGINT/SIGTERM; DIR for the `log` stage
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ingest/envelope_parser.h"
#include "log/log.h"
#include "server/http_server.h"

namespace sluice {
namespace {

enum class Stage { kHttp, kParse, kLog };

class FloorRouter : public Router {
 public:
  FloorRouter(Stage stage, Log* log) : stage_(stage), log_(log) {}

  std::optional<HttpResponse> Admit(const http::request_header<>&, uint64_t) override {
    return std::nullopt;
  }
  uint64_t body_limit() const override { return 64ull << 20; }
  void Release(uint64_t) override {}

  void Handle(HttpRequest req, Reply reply) override {
    const unsigned v = req.version();
    size_t events = 0;
    if (stage_ == Stage::kParse) {
      ParseContext ctx;
      ctx.received_at_us = 1714566896000000;
      thread_local ParsedBody parsed;
      Status st = ParseBody(req.body(), BodyFormat::kNdjson, ctx, &parsed);
      if (!st.ok()) return reply(JsonError(http::status::bad_request, st.message(), v));
      events = parsed.events.size();
    }
    if (stage_ == Stage::kLog) {
      Result<uint64_t> off = log_->Append(RecordType::kEventBatch, req.body());
      if (!off.ok()) return reply(JsonError(http::status::service_unavailable, "log busy", v));
      log_->OnDurable(*off, [reply = std::move(reply), v](const Status& st) {
        reply(st.ok() ? JsonResponse(http::status::accepted,
                                     "{\"accepted\":500,\"duplicates\":0,\"errors\":[]}", v)
                      : JsonError(http::status::internal_server_error, "fsync", v));
      });
      return;
    }
    reply(JsonResponse(
        http::status::accepted,
        "{\"accepted\":" + std::to_string(events) + ",\"duplicates\":0,\"errors\":[]}", v));
  }

 private:
  Stage stage_;
  Log* log_;
};

std::atomic<bool> stop{false};

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc < 3) {
    std::fprintf(stderr, "usage: ingest_floor http|parse|log PORT [DIR]\n");
    return 2;
  }
  const std::string s = argv[1];
  Stage stage = s == "http" ? Stage::kHttp : s == "parse" ? Stage::kParse : Stage::kLog;
  if (s != "http" && s != "parse" && s != "log") {
    std::fprintf(stderr, "unknown stage %s\n", argv[1]);
    return 2;
  }
  std::unique_ptr<Log> log;
  if (stage == Stage::kLog) {
    if (argc < 4) {
      std::fprintf(stderr, "the log stage needs a DIR\n");
      return 2;
    }
    LogOptions opts;
    opts.dir = argv[3];
    // FLOOR_DIRECT_IO=0 writes through the page cache, for an A/B of log/segment_writer.h.
    if (const char* d = std::getenv("FLOOR_DIRECT_IO")) opts.direct_io = std::string(d) != "0";
    RecoveryReport report;
    auto opened = Log::Open(opts, &report);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
      return 1;
    }
    log = std::move(*opened);
  }
  FloorRouter router(stage, log.get());
  HttpServer server(&router, 2);  // serve's default io threads on this machine
  Status st = server.Listen("127.0.0.1", static_cast<uint16_t>(std::stoi(argv[2])));
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  signal(SIGINT, [](int) { stop = true; });
  signal(SIGTERM, [](int) { stop = true; });
  server.Start();
  std::printf("ingest_floor %s on port %u\n", argv[1], server.bound_port());
  std::fflush(stdout);
  while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  return 0;
}
