// Snapshot sync (SPEC §5.3): each poll fetches the full current set of entities (JSON or
// XML) and reconciles it with the entity table (entity_state.h), which is the checkpoint.
//
//  - a new entity, one whose content changed, or one back from stale is stored as a new
//    version: event type `<name>.entity` (configurable), event_id
//    `<name>:<id>:<n>:<content hash>` where n counts the entity's versions in the table.
//    The count makes A -> B -> A and a return with unchanged content new events (a hash
//    alone would repeat an id already stored and dedupe would drop the history); the hash
//    keeps ids of different contents apart after a replay from an older table;
//  - an unchanged entity makes no event;
//  - an entity missing from the feed is marked stale and a `<name>.entity_stale` event with
//    its last_seen_at is stored; it is never deleted;
//  - a feed that lists no entity while some are current is an error, not a reason to mark
//    them all stale (an outage or a changed feed looks just like that), unless
//    allow_empty_feed = true;
//  - versions, stale markers and the new table commit in one log record, so a poll
//    replayed after a crash starts from the same table and makes the same ids.
// Current state: GET /v1/admin/connectors/NAME/entities?state=current (or all); history:
// the `<name>.entity` events, e.g. SQL over `events` filtered by type.
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "common/clock.h"
#include "sources/entity_state.h"
#include "sources/pull_connector.h"

namespace sluice {

namespace {

class SnapshotConnector : public PullConnector {
 public:
  SnapshotConnector(const ConnectorConfig& c, Ingestor* ingestor, Log* log, std::string cp)
      : PullConnector(c, ingestor, log, std::move(cp)) {}

  Status Poll() override {
    stats_.polls.fetch_add(1, std::memory_order_relaxed);
    EntityTable table;
    SLUICE_RETURN_IF_ERROR(DecodeEntityTable(checkpoint(), &table));
    FetchResponse response;
    ExtractedPage page;
    auto outcome = Fetch(BuildUrl({}), false, &response, &page);
    if (!outcome.ok()) return outcome.status();
    for (const std::string& e : page.errors) {
      stats_.record_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("connector={} {}", config_.name, e);
    }
    if (page.records.empty() && !config_.allow_empty_feed) {
      size_t current = 0;
      for (const auto& [id, s] : table) current += s.stale ? 0 : 1;
      if (current > 0) {
        return Status::Unavailable(
            "the feed lists no entity (records_path '" + config_.records_path + "'): not marking " +
            std::to_string(current) +
            " current entities stale; set allow_empty_feed = true if it can really be empty");
      }
    }
    const int64_t now = NowMicros();
    std::vector<PulledRecord> out;
    std::map<std::string, bool> in_feed;
    for (PulledRecord& r : page.records) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx",
                    static_cast<unsigned long long>(XXH3_64bits(r.json.data(), r.json.size())));
      in_feed[r.id] = true;
      EntityState& s = table[r.id];
      if (s.first_seen_us == 0) s.first_seen_us = now;
      s.last_seen_us = now;
      const bool changed = s.version != hex || s.stale;
      s.version = hex;
      s.stale = false;
      if (!changed) continue;
      r.version = std::to_string(++s.versions) + ":" + hex;
      if (r.timestamp_json.empty()) r.timestamp_json = std::to_string(now);
      out.push_back(std::move(r));
    }
    for (auto& [id, s] : table) {
      if (s.stale || in_feed.count(id)) continue;
      s.stale = true;
      PulledRecord marker;
      marker.id = id;
      marker.version = "stale:" + std::to_string(s.last_seen_us);
      marker.type = config_.name + ".entity_stale";
      marker.timestamp_json = std::to_string(now);
      marker.json = "{\"id\":";
      AppendJsonString(&marker.json, id);
      marker.json += ",\"version\":";
      AppendJsonString(&marker.json, s.version);
      marker.json += ",\"last_seen_at_us\":" + std::to_string(s.last_seen_us) + "}";
      out.push_back(std::move(marker));
    }
    SLUICE_RETURN_IF_ERROR(Commit(out, EncodeEntityTable(table)));
    stats_.caught_up_at_us.store(now);
    return Status::OK();
  }
};

}  // namespace

std::unique_ptr<PullConnector> NewSnapshotConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                    Log* log, std::string checkpoint) {
  return std::unique_ptr<PullConnector>(
      new SnapshotConnector(c, ingestor, log, std::move(checkpoint)));
}

}  // namespace sluice
