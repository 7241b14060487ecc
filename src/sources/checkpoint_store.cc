// Durable checkpoint lookup: DuckDB table, then newer log records (checkpoint_store.h).
#include "sources/checkpoint_store.h"

#include "ingest/connector_batch.h"
#include "store/store_consumer.h"

namespace sluice {

Result<CheckpointMap> LoadDurableCheckpoints(Log* log, EventStore* store) {
  if (store == nullptr) {
    return Status::InvalidArgument(
        "pull connectors need the store ([store] enabled = true): it keeps their checkpoints "
        "once the log is collected");
  }
  // Offset first, table second: the table is then at least as new as the offset, and
  // every record after the offset is read from the log below.
  auto offset = store->LoadOffset(StoreConsumer::kName);
  if (!offset.ok()) return offset.status();
  auto rows = store->LoadConnectorCheckpoints();
  if (!rows.ok()) return rows.status();
  CheckpointMap out;
  for (const auto& r : *rows) {
    out[{r.checkpoint.tenant, r.checkpoint.connector}] = r.checkpoint.checkpoint;
  }
  std::unique_ptr<LogReader> reader = log->NewReader(std::max(*offset, log->start_offset()));
  LogRecord rec;
  Status st;
  while (reader->Next(&rec, &st)) {
    if (rec.type != RecordType::kConnectorBatch) continue;
    ConnectorCheckpoint cp;
    std::string_view events;
    SLUICE_RETURN_IF_ERROR(DecodeConnectorBatch(rec.payload, &cp, &events));
    out[{cp.tenant, cp.connector}] = std::move(cp.checkpoint);
  }
  if (!st.ok()) return st;
  return out;
}

Result<std::string> LoadDurableCheckpoint(Log* log, EventStore* store, const std::string& tenant,
                                          const std::string& connector) {
  auto all = LoadDurableCheckpoints(log, store);
  if (!all.ok()) return all.status();
  auto it = all->find({tenant, connector});
  return it == all->end() ? std::string() : it->second;
}

}  // namespace sluice
