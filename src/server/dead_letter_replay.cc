#include "server/dead_letter_replay.h"

#include <simdjson.h>

#include <algorithm>

#include "common/clock.h"
#include "store/dead_letters.h"

namespace sluice {

std::string ReplaySummary::ToJson() const {
  return "{\"replayed\":" + std::to_string(replayed) + ",\"accepted\":" + std::to_string(accepted) +
         ",\"duplicates\":" + std::to_string(duplicates) +
         ",\"still_invalid\":" + std::to_string(still_invalid) +
         ",\"more\":" + (more ? "true" : "false") + "}";
}

Result<ReplaySummary> ReplayDeadLetters(Engine& engine, const std::string& tenant,
                                        const std::string& type, uint64_t max_letters,
                                        StorageMeter* meter) {
  if (engine.store() == nullptr) {
    return Status::InvalidArgument("the store is disabled ([store] enabled)");
  }
  DeadLetterFilter filter;
  filter.tenant = tenant;
  filter.type = type;
  filter.pending_only = true;
  filter.limit = std::max<uint64_t>(1, std::min(max_letters, kMaxReplayLetters));
  auto letters = ListDeadLetters(*engine.store(), filter);
  if (!letters.ok()) return letters.status();
  ReplaySummary summary;
  summary.more = letters->size() >= filter.limit;
  const std::shared_ptr<const SchemaMap> schemas = engine.schemas()->SchemasFor(tenant);
  simdjson::dom::parser parser;
  std::vector<Event> events;
  std::vector<std::string> ids;
  for (DeadLetter& d : *letters) {
    Event& e = d.rejected.event;
    if (schemas) {
      if (auto it = schemas->find(e.type); it != schemas->end()) {
        simdjson::dom::element props;
        if (parser.parse(e.properties).get(props) != simdjson::SUCCESS ||
            !it->second.schema.Validate(props).empty()) {
          ++summary.still_invalid;
          continue;
        }
      }
    }
    e.id_assigned = false;
    ids.push_back(e.event_id);
    events.push_back(std::move(e));
  }
  if (events.empty()) return summary;
  uint64_t stored_bytes = 0;
  if (meter != nullptr) {
    for (const Event& e : events) stored_bytes += StoredBytesOf(e);
  }
  auto submitted = engine.ingestor()->Submit(&events);
  if (!submitted.ok()) return submitted.status();
  if (meter != nullptr && submitted->accepted > 0) {
    meter->Add(tenant, stored_bytes, submitted->wait_offset);
  }
  SLUICE_RETURN_IF_ERROR(engine.log()->WaitDurable(submitted->wait_offset));
  summary.replayed = ids.size();
  summary.accepted = submitted->accepted;
  summary.duplicates = submitted->duplicates;
  SLUICE_RETURN_IF_ERROR(MarkDeadLettersReplayed(*engine.store(), tenant, ids, NowMicros()));
  return summary;
}

}  // namespace sluice
