// PullConnector's shared fetch and commit (pull_connector.h).
#include "sources/pull_connector.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cctype>

#include "common/clock.h"
#include "ingest/dead_letter_codec.h"
#include "ingest/envelope_parser.h"
#include "sources/checkpoint_value.h"

namespace sluice {

namespace {

double NowUnixSeconds() { return double(NowMicros()) / 1e6; }

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

}  // namespace

bool PullConnector::CursorGone(std::string_view body) const {
  if (!config_.cursor_expired_body.empty()) {
    return ContainsIgnoreCase(body, config_.cursor_expired_body);
  }
  return ContainsIgnoreCase(body, "expired") || ContainsIgnoreCase(body, "unknown cursor") ||
         ContainsIgnoreCase(body, "invalid cursor");
}

std::unique_ptr<PullConnector> PullConnector::Create(const ConnectorConfig& config,
                                                     Ingestor* ingestor, Log* log,
                                                     std::string checkpoint) {
  switch (config.kind) {
    case ConnectorKind::kCursor:
      return NewCursorConnector(config, ingestor, log, std::move(checkpoint));
    case ConnectorKind::kTimeWindow:
      return NewTimeWindowConnector(config, ingestor, log, std::move(checkpoint));
    case ConnectorKind::kSnapshot:
      return NewSnapshotConnector(config, ingestor, log, std::move(checkpoint));
  }
  return nullptr;
}

PullConnector::PullConnector(const ConnectorConfig& config, Ingestor* ingestor, Log* log,
                             std::string checkpoint)
    : config_(config),
      ingestor_(ingestor),
      log_(log),
      fetcher_(config.timeout_seconds),
      pacer_(config.requests_per_second),
      retry_(config.retry_initial_ms, config.retry_max_ms, config.max_attempts,
             XXH3_64bits(config.name.data(), config.name.size()) ^ uint64_t(NowMicros())),
      checkpoint_(std::move(checkpoint)) {}

void PullConnector::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
}

bool PullConnector::SleepUntil(std::chrono::steady_clock::time_point t) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_until(l, t, [this] { return stop_.load() || requested_; });
  return !stop_.load() && !requested_;
}

Status PullConnector::RequestCheckpoint(std::string value) {
  Result<std::string> normalized = NormalizeCheckpoint(config_.kind, value);
  if (!normalized.ok()) {
    // The caller may not look at the status (an HTTP reply already sent): keep it visible.
    stats_.SetError("checkpoint move refused: " + normalized.status().message());
    return normalized.status();
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    requested_ = true;
    requested_value_ = std::move(*normalized);
  }
  cv_.notify_all();
  return Status::OK();
}

bool PullConnector::checkpoint_requested() const {
  std::lock_guard<std::mutex> l(mu_);
  return requested_;
}

Status PullConnector::ApplyRequestedCheckpoint() {
  std::string value;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!requested_) return Status::OK();
    value = requested_value_;
  }
  SLUICE_RETURN_IF_ERROR(Commit({}, value));
  spdlog::info("connector={} checkpoint_set=\"{}\"", config_.name, value);
  std::lock_guard<std::mutex> l(mu_);
  requested_ = false;
  return Status::OK();
}

std::string PullConnector::checkpoint() const {
  std::lock_guard<std::mutex> l(mu_);
  return checkpoint_;
}

std::string PullConnector::BuildUrl(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string url = config_.url;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](const std::string& k, const std::string& v) {
    url += sep;
    sep = '&';
    url += fetcher_.Escape(k) + "=" + fetcher_.Escape(v);
  };
  for (const auto& [k, v] : config_.params) add(k, v);
  for (const auto& [k, v] : extra) add(k, v);
  return url;
}

Result<PullConnector::FetchOutcome> PullConnector::Fetch(const std::string& url, bool cursor_in_use,
                                                         FetchResponse* response,
                                                         ExtractedPage* page) {
  while (true) {
    if (!SleepUntil(pacer_.NextAllowed())) return Status::Unavailable("stopped");
    const auto sent = std::chrono::steady_clock::now();
    const bool last_in_window = pacer_.LastInWindow();
    pacer_.OnRequest(sent);
    stats_.requests.fetch_add(1, std::memory_order_relaxed);
    Result<FetchResponse> r = fetcher_.Get(url, config_.headers, last_in_window);
    std::string problem;
    if (!r.ok()) {
      problem = r.status().message();
    } else {
      pacer_.OnResponse(*r, std::chrono::steady_clock::now(), NowUnixSeconds());
      const long code = r->status;
      if (code == 429) {
        stats_.rate_limited.fetch_add(1, std::memory_order_relaxed);
        problem = "429 Too Many Requests";
      } else if (cursor_in_use &&
                 std::find(config_.cursor_expired_status.begin(),
                           config_.cursor_expired_status.end(),
                           code) != config_.cursor_expired_status.end() &&
                 CursorGone(r->body)) {
        stats_.cursor_expired.fetch_add(1, std::memory_order_relaxed);
        *response = std::move(*r);
        retry_.Reset();
        return FetchOutcome::kCursorExpired;
      } else if (code >= 500 || code == 408) {
        problem = "upstream answered " + std::to_string(code);
      } else if (code < 200 || code >= 300) {
        // 4xx other than the above: our request is wrong (auth, url); retrying now will
        // not help, the next poll will try again.
        return Status::InvalidArgument("upstream answered " + std::to_string(code) + ": " +
                                       r->body.substr(0, 200));
      } else {
        Status s = ExtractRecords(r->body, config_, page);
        if (s.ok()) {
          *response = std::move(*r);
          retry_.Reset();
          return FetchOutcome::kOk;
        }
        problem = s.message();  // truncated or garbled body: fetch it again
      }
    }
    std::chrono::milliseconds delay;
    if (!retry_.Next(&delay)) {
      return Status::Unavailable("giving up after " + std::to_string(retry_.failures() + 1) +
                                 " attempts: " + problem);
    }
    stats_.retries.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("connector={} retry={} delay_ms={} reason=\"{}\"", config_.name,
                  retry_.failures(), delay.count(), problem);
    if (!SleepUntil(std::chrono::steady_clock::now() + delay)) {
      return Status::Unavailable("stopped");
    }
  }
}

Status PullConnector::Commit(const std::vector<PulledRecord>& records,
                             const std::string& checkpoint, size_t* stored) {
  // Records become envelopes and go through the same parser as pushed events, so the
  // timestamp normalization (mixed ISO strings and unix ms in one page) is the shared one.
  std::string ndjson;
  ndjson.reserve(records.size() * 256);
  for (const PulledRecord& r : records) {
    std::string id = config_.name + ":" + r.id;
    if (!r.version.empty()) id += ":" + r.version;
    if (id.size() > 128) {
      // Over the id limit: keep it unique and stable with a hash instead of refusing.
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx",
                    static_cast<unsigned long long>(XXH3_64bits(id.data(), id.size())));
      id = config_.name + ":#" + hex;
    }
    ndjson += "{\"event_id\":";
    AppendJsonString(&ndjson, id);
    ndjson += ",\"type\":";
    AppendJsonString(&ndjson, r.type.empty() ? config_.type : r.type);
    if (!r.timestamp_json.empty()) {
      ndjson += ",\"timestamp\":";
      ndjson += r.timestamp_json;
    }
    if (!r.user_id.empty()) {
      ndjson += ",\"user_id\":";
      AppendJsonString(&ndjson, r.user_id);
    }
    ndjson += ",\"properties\":";
    ndjson += r.json.empty() || r.json[0] != '{' ? "{\"value\":" + r.json + "}" : r.json;
    ndjson += "}\n";
  }
  ParsedBody parsed;
  if (!ndjson.empty()) {
    ParseContext ctx;
    ctx.tenant = config_.tenant;
    ctx.source = config_.name;
    ctx.received_at_us = NowMicros();
    ctx.limits.max_events_per_request = SIZE_MAX;
    std::shared_ptr<const SchemaMap> schemas;
    if (schema_lookup_) schemas = schema_lookup_(config_.tenant);
    ctx.schemas = schemas.get();
    SLUICE_RETURN_IF_ERROR(ParseBody(ndjson, BodyFormat::kNdjson, ctx, &parsed));
    for (const EventError& e : parsed.errors) {
      stats_.record_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("connector={} record_error=\"{}\" id=\"{}\"", config_.name, e.error,
                   e.index < records.size() ? records[e.index].id : "");
    }
  }
  if (!parsed.rejected.empty()) {
    // Logged before the page's connector batch, so the fsync that makes the checkpoint
    // durable covers them too; a crash between the two re-pulls the page and, at worst,
    // dead-letters its refused records twice (a replay dedupes them).
    const std::string payload = EncodeDeadLetters(parsed.rejected);
    Result<uint64_t> off = log_->Append(RecordType::kDeadLetter, payload);
    while (!off.ok() && off.status().code() == Status::Code::kUnavailable && !stopped()) {
      SLUICE_RETURN_IF_ERROR(log_->WaitDurable(log_->end_offset()));
      off = log_->Append(RecordType::kDeadLetter, payload);
    }
    if (!off.ok()) return off.status();
  }
  ConnectorCheckpoint cp{config_.tenant, config_.name, checkpoint};
  Result<SubmitResult> r = ingestor_->SubmitConnectorBatch(cp, &parsed.events);
  while (!r.ok() && r.status().code() == Status::Code::kUnavailable) {
    // The log's pending tail is full: let the commit thread catch up, then retry.
    SLUICE_RETURN_IF_ERROR(log_->WaitDurable(log_->end_offset()));
    if (stopped()) return r.status();
    r = ingestor_->SubmitConnectorBatch(cp, &parsed.events);
  }
  if (!r.ok()) return r.status();
  SLUICE_RETURN_IF_ERROR(log_->WaitDurable(r->wait_offset));
  stats_.records.fetch_add(records.size(), std::memory_order_relaxed);
  stats_.stored.fetch_add(r->accepted, std::memory_order_relaxed);
  stats_.duplicates.fetch_add(r->duplicates, std::memory_order_relaxed);
  if (stored) *stored = r->accepted;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (checkpoint_ != checkpoint) stats_.checkpoint_at_us.store(NowMicros());
    checkpoint_ = checkpoint;
  }
  return Status::OK();
}

}  // namespace sluice
