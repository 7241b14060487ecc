// The entity table of a snapshot connector (SPEC §5.3): per entity id its current version
// (content hash), first_seen, last_seen_at and whether it is stale (missing from the last
// feed). It IS the snapshot connector's checkpoint: encoded as JSON it travels in the same
// log record as the versions and stale markers it accounts for, so the table and the
// events never disagree after a crash. Entities are never removed from it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace sluice {

struct EntityState {
  std::string version;  // content hash of the current version
  int64_t first_seen_us = 0;
  int64_t last_seen_us = 0;
  bool stale = false;
  // Versions recorded so far (1 = the first). It is part of each version's event_id, so
  // a return to earlier content (A -> B -> A) or from stale is a new event, while a
  // replay of the same poll, which starts from the same durable table, makes the same ids.
  // 0 in tables written before it existed: counting starts again from there.
  uint64_t versions = 0;
};

using EntityTable = std::map<std::string, EntityState>;  // by entity id

std::string EncodeEntityTable(const EntityTable& t);
Status DecodeEntityTable(const std::string& checkpoint, EntityTable* t);  // "" = empty

// [{"id":..,"version":..,"versions":n,"first_seen":RFC3339,"last_seen_at":RFC3339,
//   "stale":bool},...]
// of all entities, or only current (non-stale) ones.
std::string EntitiesJson(const EntityTable& t, bool current_only);

}  // namespace sluice
