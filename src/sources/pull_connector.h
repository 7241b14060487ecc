// PullConnector: the one interface of the three pull patterns of SPEC §5 (cursor stream,
// time window, snapshot), and what they share: paced, retried fetching and the commit of a
// page with its checkpoint in one log record.
//
// A connector owns its checkpoint in memory; it is durable only through Commit(), which
// hands the page's events and the new checkpoint to Ingestor::SubmitConnectorBatch and
// waits for the log to fsync them. A connector therefore resumes (checkpoint_store.h) at a
// position whose events are all durable, and every record fetched again after a crash is a
// duplicate that dedupe drops: nothing lost, nothing doubled.
//
// Event ids are "<connector>:<upstream id>" (snapshot entities add their version number
// and content hash, so each change is a new event), so re-pulls of the same record always
// dedupe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/ingestor.h"
#include "ingest/json_schema.h"
#include "sources/connector_config.h"
#include "sources/connector_stats.h"
#include "sources/http_fetcher.h"
#include "sources/rate_pacer.h"
#include "sources/record_extractor.h"
#include "sources/retry_policy.h"

namespace sluice {

// The latest schemas of a tenant's event types (tenancy/schema_registry.h), or null.
using SchemaLookup = std::function<std::shared_ptr<const SchemaMap>(const std::string& tenant)>;

class PullConnector {
 public:
  // `checkpoint` is the durable one (empty: start from the beginning).
  static std::unique_ptr<PullConnector> Create(const ConnectorConfig& config, Ingestor* ingestor,
                                               Log* log, std::string checkpoint);
  virtual ~PullConnector() = default;

  // Pulls until upstream has nothing more for now (or Stop()). An error is what stopped
  // this poll after retries; the next poll starts again from the durable checkpoint.
  virtual Status Poll() = 0;

  // Makes Poll return soon and sleeps end early. Thread-safe.
  void Stop();
  bool stopped() const { return stop_.load(); }
  // Sleeps until `t` or Stop(); false when stopped.
  bool SleepUntil(std::chrono::steady_clock::time_point t);

  // Moves the checkpoint of a running connector (replay): the current poll ends at its
  // next request and the runner commits `value` before the next poll. A value this kind
  // cannot read is refused (checkpoint_value.h) and kept as last_error; an RFC 3339
  // time-window value is stored as unix µs.
  Status RequestCheckpoint(std::string value);
  // Commits a requested checkpoint, if any, as an event-less connector batch.
  Status ApplyRequestedCheckpoint();
  bool checkpoint_requested() const;

  // Pulled events are validated like pushed ones (SPEC §7): those a schema refuses go to
  // the tenant's dead letters. Set before the first Poll.
  void set_schema_lookup(SchemaLookup lookup) { schema_lookup_ = std::move(lookup); }

  const ConnectorConfig& config() const { return config_; }
  ConnectorStats& stats() { return stats_; }
  std::string checkpoint() const;

 protected:
  PullConnector(const ConnectorConfig& config, Ingestor* ingestor, Log* log,
                std::string checkpoint);

  enum class FetchOutcome { kOk, kCursorExpired };
  // GETs `url` paced by the rate limit, retrying 5xx, 429, transport errors and
  // unparsable bodies with backoff. kCursorExpired when upstream says the cursor is gone
  // (only checked when `cursor_in_use`). Unavailable when stopped.
  Result<FetchOutcome> Fetch(const std::string& url, bool cursor_in_use, FetchResponse* response,
                             ExtractedPage* page);
  // Stores `records` and `checkpoint` in one log record and waits until it is durable.
  // Counts new events in *stored (may be null).
  Status Commit(const std::vector<PulledRecord>& records, const std::string& checkpoint,
                size_t* stored = nullptr);
  // Whether an error body says the cursor expired or is unknown (cursor_expired_body).
  bool CursorGone(std::string_view body) const;
  // url + configured params + `extra` (already escaped values are escaped here).
  std::string BuildUrl(const std::vector<std::pair<std::string, std::string>>& extra);

  const ConnectorConfig config_;
  Ingestor* const ingestor_;
  Log* const log_;
  ConnectorStats stats_;
  HttpFetcher fetcher_;
  RatePacer pacer_;
  RetryPolicy retry_;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string checkpoint_;  // guarded by mu_
  bool requested_ = false;  // guarded by mu_
  std::string requested_value_;
  std::atomic<bool> stop_{false};
  SchemaLookup schema_lookup_;  // see set_schema_lookup
};

// The three patterns (cursor_connector.cc, time_window_connector.cc, snapshot_connector.cc).
std::unique_ptr<PullConnector> NewCursorConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                  Log* log, std::string checkpoint);
std::unique_ptr<PullConnector> NewTimeWindowConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                      Log* log, std::string checkpoint);
std::unique_ptr<PullConnector> NewSnapshotConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                    Log* log, std::string checkpoint);

}  // namespace sluice
