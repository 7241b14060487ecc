// ConnectorRunner: runs pull connectors, one thread each, so one failing or slow upstream
// never stalls another (SPEC §5). Each thread polls, sleeps poll_interval, polls again;
// a failed poll is logged, kept as last_error, and retried after the interval (the
// connector's own retries already happened inside the poll).
//
// It also renders what /v1/admin/connectors and /metrics show about them.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "sources/connector_config.h"
#include "sources/pull_connector.h"
#include "store/event_store.h"

namespace sluice {

class ConnectorRunner {
 public:
  ConnectorRunner(Ingestor* ingestor, Log* log, EventStore* store);
  ~ConnectorRunner();  // Stop()s

  // Applied to every connector Start creates (PullConnector::set_schema_lookup).
  void set_schema_lookup(SchemaLookup lookup) { schema_lookup_ = std::move(lookup); }
  // Resumes each connector from its durable checkpoint and starts its thread.
  Status Start(const std::vector<ConnectorConfig>& configs);
  void Stop();

  // One poll on the calling thread (`sluice pull`), status kept like Loop's.
  static Status RunOnce(PullConnector* connector);

  size_t size() const { return connectors_.size(); }
  PullConnector* Find(const std::string& tenant, const std::string& name);

  // {"connectors":[{"name":..,"kind":..,"status":..,"checkpoint":..,...}]} for `tenant`.
  std::string StatusJson(const std::string& tenant) const;
  // Prometheus text lines for every connector (sluice_connector_*).
  std::string MetricsText() const;

 private:
  void Loop(PullConnector* c);

  Ingestor* ingestor_;
  Log* log_;
  EventStore* store_;
  SchemaLookup schema_lookup_;
  std::vector<std::unique_ptr<PullConnector>> connectors_;
  std::vector<std::thread> threads_;
};

// One connector's status object (shared by the runner and `sluice pull`).
std::string ConnectorStatusJson(PullConnector* c);

}  // namespace sluice
