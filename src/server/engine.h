// Engine: the data directory opened for use — lock, log (recovered), ingestor (dedupe
// recovered) and, if enabled, the DuckDB store with its consumer. `serve` puts HTTP in
// front of it; offline commands (`import`, `export-ids`, `archive`...) use it directly, so
// both take exactly the same path from bytes to durable, deduplicated events. With a
// running consumer it also runs the archive tiers on a schedule (archiver.h).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/status.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "rollup/rollup_consumer.h"
#include "server/data_dir.h"
#include "store/archiver.h"
#include "store/event_store.h"
#include "store/store_consumer.h"
#include "tenancy/schema_registry.h"
#include "tenancy/tenant_registry.h"

namespace sluice {

class Engine {
 public:
  // start_consumer=false leaves the store idle (offline commands drain it explicitly).
  static Result<std::unique_ptr<Engine>> Open(const Config& config, bool start_consumer);
  ~Engine();

  // Applies every durable log record to the store and the rollups (offline use; no
  // consumer thread).
  Status DrainToStore();
  // Final snapshot, consumer stop, log flush. Idempotent.
  Status Close();

  Log* log() { return log_.get(); }
  Ingestor* ingestor() { return ingestor_.get(); }
  EventStore* store() { return store_.get(); }           // null when the store is disabled
  StoreConsumer* consumer() { return consumer_.get(); }  // null when not started
  Archiver* archiver() { return archiver_.get(); }       // null when the store is disabled
  TenantRegistry* tenants() { return tenants_.get(); }
  SchemaRegistry* schemas() { return schemas_.get(); }
  RollupConsumer* rollups() { return rollups_.get(); }  // null when not started ([rollup])

 private:
  Engine() = default;
  // serve's schedule: Archive, Evict, Retention every [archive] interval_seconds.
  void ArchiveLoop();

  Config config_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<TenantRegistry> tenants_;
  std::unique_ptr<SchemaRegistry> schemas_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<StoreConsumer> consumer_;
  std::unique_ptr<Archiver> archiver_;
  std::unique_ptr<RollupConsumer> rollups_;
  std::thread archive_thread_;
  std::mutex archive_mu_;
  std::condition_variable archive_cv_;
  bool archive_stop_ = false;
  bool closed_ = false;
};

}  // namespace sluice
