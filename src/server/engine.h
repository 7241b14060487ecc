// Engine: the data directory opened for use — lock, log (recovered), ingestor (dedupe
// recovered) and, if enabled, the DuckDB store with its consumer. `serve` puts HTTP in
// front of it; offline commands (`import`, `export-ids`) use it directly, so both take
// exactly the same path from bytes to durable, deduplicated events.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/status.h"
#include "ingest/ingestor.h"
#include "log/log.h"
#include "server/data_dir.h"
#include "store/event_store.h"
#include "store/store_consumer.h"

namespace sluice {

class Engine {
 public:
  // start_consumer=false leaves the store idle (offline commands drain it explicitly).
  static Result<std::unique_ptr<Engine>> Open(const Config& config, bool start_consumer);
  ~Engine();

  // Applies every durable log record to the store (offline use; no consumer thread).
  Status DrainToStore();
  // Final snapshot, consumer stop, log flush. Idempotent.
  Status Close();

  Log* log() { return log_.get(); }
  Ingestor* ingestor() { return ingestor_.get(); }
  EventStore* store() { return store_.get(); }           // null when the store is disabled
  StoreConsumer* consumer() { return consumer_.get(); }  // null when not started

 private:
  Engine() = default;
  Config config_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<StoreConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace sluice
