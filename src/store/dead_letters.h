// The per-tenant dead-letter table (SPEC §7): events their type's schema refused, with the
// error, kept until they are replayed after a schema fix. Rows arrive only through the log
// (dead_letter_codec.h, EventStore::AppendBatch); this file reads them and marks them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/envelope_parser.h"
#include "store/event_store.h"

namespace sluice {

struct DeadLetter {
  RejectedEvent rejected;      // the event (tenant, id, ...), its error and schema version
  int64_t replayed_at_us = 0;  // 0 = still pending
};

struct DeadLetterFilter {
  std::string tenant;  // required: a tenant sees only its own
  std::string type;    // empty = every type
  bool pending_only = true;
  uint64_t limit = 1000;
};

// Oldest first.
Result<std::vector<DeadLetter>> ListDeadLetters(EventStore& store, const DeadLetterFilter& f);

// Marks the pending dead letters of `tenant` with these ids replayed.
Status MarkDeadLettersReplayed(EventStore& store, const std::string& tenant,
                               const std::vector<std::string>& event_ids, int64_t now_us);

}  // namespace sluice
