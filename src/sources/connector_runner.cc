// ConnectorRunner (connector_runner.h).
#include "sources/connector_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/thread_name.h"
#include "sources/checkpoint_store.h"
#include "sources/record_extractor.h"

namespace sluice {

ConnectorRunner::ConnectorRunner(Ingestor* ingestor, Log* log, EventStore* store)
    : ingestor_(ingestor), log_(log), store_(store) {}

ConnectorRunner::~ConnectorRunner() { Stop(); }

Status ConnectorRunner::Start(const std::vector<ConnectorConfig>& configs) {
  if (configs.empty()) return Status::OK();
  auto checkpoints = LoadDurableCheckpoints(log_, store_);
  if (!checkpoints.ok()) return checkpoints.status();
  for (const ConnectorConfig& c : configs) {
    auto it = checkpoints->find({c.tenant, c.name});
    std::string cp = it == checkpoints->end() ? "" : it->second;
    spdlog::info("connector={} tenant={} kind={} resuming checkpoint=\"{}\"", c.name, c.tenant,
                 ConnectorKindName(c.kind), cp.size() > 80 ? cp.substr(0, 80) + "..." : cp);
    connectors_.push_back(PullConnector::Create(c, ingestor_, log_, std::move(cp)));
    connectors_.back()->set_schema_lookup(schema_lookup_);
  }
  for (auto& c : connectors_) {
    threads_.emplace_back([this, p = c.get()] {
      SetCurrentThreadName(("pull-" + p->config().name).c_str());
      Loop(p);
    });
  }
  return Status::OK();
}

void ConnectorRunner::Loop(PullConnector* c) {
  while (!c->stopped()) {
    Status s = c->ApplyRequestedCheckpoint();
    if (s.ok()) {
      c->stats().SetState("polling");
      s = c->Poll();
    }
    if (c->stopped()) break;
    if (c->checkpoint_requested()) continue;  // the poll was cut short on purpose
    if (!s.ok()) {
      c->stats().SetError(s.message());
      c->stats().SetState("error");
      spdlog::error("connector={} poll_failed=\"{}\" next_poll_s={}", c->config().name, s.message(),
                    c->config().poll_interval_seconds);
    } else {
      c->stats().SetState("idle");
    }
    c->SleepUntil(std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(c->config().poll_interval_seconds)));
  }
  c->stats().SetState("stopped");
}

void ConnectorRunner::Stop() {
  for (auto& c : connectors_) c->Stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

Status ConnectorRunner::RunOnce(PullConnector* c) {
  c->stats().SetState("polling");
  Status s = c->Poll();
  c->stats().SetState(s.ok() ? "idle" : "error");
  if (!s.ok()) c->stats().SetError(s.message());
  return s;
}

PullConnector* ConnectorRunner::Find(const std::string& tenant, const std::string& name) {
  for (auto& c : connectors_) {
    if (c->config().tenant == tenant && c->config().name == name) return c.get();
  }
  return nullptr;
}

std::string ConnectorStatusJson(PullConnector* c) {
  ConnectorStats& s = c->stats();
  const int64_t now = NowMicros();
  auto age = [&](int64_t at) { return at == 0 ? -1.0 : double(now - at) / 1e6; };
  std::string out = "{\"name\":";
  AppendJsonString(&out, c->config().name);
  out += ",\"kind\":\"";
  out += ConnectorKindName(c->config().kind);
  out += "\",\"status\":";
  AppendJsonString(&out, s.state());
  out += ",\"checkpoint\":";
  const std::string cp = c->checkpoint();
  // A snapshot's checkpoint is its whole entity table: show its size, not its bytes.
  if (c->config().kind == ConnectorKind::kSnapshot) {
    AppendJsonString(&out, fmt::format("<entity table, {} bytes>", cp.size()));
  } else {
    AppendJsonString(&out, cp);
  }
  out += fmt::format(
      ",\"requests\":{},\"records\":{},\"stored\":{},\"duplicates\":{},\"retries\":{},"
      "\"rate_limited\":{},\"cursor_expired\":{},\"cursor_loops\":{},\"late_records\":{},"
      "\"record_errors\":{},"
      "\"checkpoint_age_seconds\":{:.3f},\"lag_seconds\":{:.3f},\"last_error\":",
      s.requests.load(), s.records.load(), s.stored.load(), s.duplicates.load(), s.retries.load(),
      s.rate_limited.load(), s.cursor_expired.load(), s.cursor_loops.load(), s.late_records.load(),
      s.record_errors.load(), age(s.checkpoint_at_us.load()),
      c->config().kind == ConnectorKind::kTimeWindow ? age(s.position_us.load())
                                                     : age(s.caught_up_at_us.load()));
  std::string err = s.last_error();
  if (err.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, err);
  }
  out += "}";
  return out;
}

std::string ConnectorRunner::StatusJson(const std::string& tenant) const {
  std::string out = "{\"connectors\":[";
  bool first = true;
  for (const auto& c : connectors_) {
    if (c->config().tenant != tenant) continue;
    if (!first) out += ',';
    first = false;
    out += ConnectorStatusJson(c.get());
  }
  out += "]}";
  return out;
}

std::string ConnectorRunner::MetricsText() const {
  if (connectors_.empty()) return {};
  const int64_t now = NowMicros();
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& c : connectors_) {
      out += fmt::format("{}{{tenant=\"{}\",connector=\"{}\"}} {}\n", name, c->config().tenant,
                         c->config().name, value(c->stats(), c->config()));
    }
  };
  family("sluice_connector_requests_total", "counter", "Upstream requests sent.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.requests.load(); });
  family("sluice_connector_records_total", "counter", "Records pulled, before dedupe.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.records.load(); });
  family("sluice_connector_stored_total", "counter", "Records stored as new events.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.stored.load(); });
  family("sluice_connector_duplicates_total", "counter", "Records already stored.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.duplicates.load(); });
  family("sluice_connector_retries_total", "counter", "Requests retried after a failure.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.retries.load(); });
  family("sluice_connector_rate_limited_total", "counter", "429 answers from upstream.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.rate_limited.load(); });
  family("sluice_connector_cursor_expired_total", "counter", "Expired cursors (restarts).",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.cursor_expired.load(); });
  family("sluice_connector_cursor_loops_total", "counter",
         "Next cursors upstream repeated (a loop: the poll ends, nothing skipped).",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.cursor_loops.load(); });
  family("sluice_connector_late_records_total", "counter",
         "Time window: records found behind the checkpoint (safety_lag too small).",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.late_records.load(); });
  family("sluice_connector_record_errors_total", "counter", "Records that could not be stored.",
         [](ConnectorStats& s, const ConnectorConfig&) { return s.record_errors.load(); });
  family("sluice_connector_lag_seconds", "gauge",
         "Time window: now minus the checkpoint; others: since upstream was last caught up.",
         [now](ConnectorStats& s, const ConnectorConfig& c) {
           int64_t at = c.kind == ConnectorKind::kTimeWindow ? s.position_us.load()
                                                             : s.caught_up_at_us.load();
           return at == 0 ? -1.0 : double(now - at) / 1e6;
         });
  family("sluice_connector_checkpoint_age_seconds", "gauge", "Since the checkpoint last moved.",
         [now](ConnectorStats& s, const ConnectorConfig&) {
           int64_t at = s.checkpoint_at_us.load();
           return at == 0 ? -1.0 : double(now - at) / 1e6;
         });
  return out;
}

}  // namespace sluice
