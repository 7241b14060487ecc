// Replaying dead letters after a schema fix (SPEC §7): each pending dead letter of a
// tenant (and type) is validated against its type's current schema; those that pass go
// through the ingest path like any event (dedupe, log, fsync) and are then marked
// replayed. Exactly once: the id an event had when refused is its identity from then on,
// so a second replay, or one after a crash before the marking, is a duplicate.
// Used by POST /v1/admin/dead-letters/replay and, offline, `sluice dead-letters replay`.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/engine.h"
#include "tenancy/storage_meter.h"

namespace sluice {

struct ReplaySummary {
  uint64_t replayed = 0;  // sent to ingest (accepted + duplicates)
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t still_invalid = 0;  // the current schema still refuses them; left pending
  bool more = false;           // letters past `max_letters` are still pending: call again
  std::string ToJson() const;
};

inline constexpr uint64_t kMaxReplayLetters = 100000;

// `type` empty = every type; at most `max_letters` letters are looked at per call (the
// HTTP route passes what the tenant's events/s bucket holds). Needs the store; the caller
// has made sure the store consumer has taken the log (dead letters reach their table
// through it). With `meter`, the events logged are added to it before their letters are
// marked replayed: a measurement in between would count neither the letter (replayed)
// nor its event (not yet taken by the store).
Result<ReplaySummary> ReplayDeadLetters(Engine& engine, const std::string& tenant,
                                        const std::string& type,
                                        uint64_t max_letters = kMaxReplayLetters,
                                        StorageMeter* meter = nullptr);

}  // namespace sluice
