// Where a connector's durable checkpoint is found at start (SPEC §1.5).
//
// A checkpoint is written only inside a kConnectorBatch log record. The store consumer
// copies it into DuckDB's connector_checkpoints in the transaction that stores the
// record's events and moves the consumer's offset, so:
//   durable checkpoint = the newest kConnectorBatch record for (tenant, connector) in the
//                        log after the store's committed offset, else the table's row.
// Records before that offset may be garbage-collected; their checkpoint is in the table.
// Records after it are still in the log, because the store consumer has not passed them.
// This is why connectors need the store: with [store] enabled = false they refuse to
// start (nothing would keep a checkpoint once the log drops its segment).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "common/status.h"
#include "log/log.h"
#include "store/event_store.h"

namespace sluice {

// (tenant, connector) -> checkpoint, for every connector that ever committed one.
using CheckpointMap = std::map<std::pair<std::string, std::string>, std::string>;

Result<CheckpointMap> LoadDurableCheckpoints(Log* log, EventStore* store);
// One connector's; empty when it never committed.
Result<std::string> LoadDurableCheckpoint(Log* log, EventStore* store, const std::string& tenant,
                                          const std::string& connector);

}  // namespace sluice
