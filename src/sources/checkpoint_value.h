// What a connector's checkpoint may be moved to (SPEC §3.1 `sluice checkpoint set`, and the
// admin HTTP move): each pattern reads its checkpoint back in its own way, so a value it
// cannot read would only surface later as a connector stuck in errors. The move is
// therefore checked, and normalized, before it is committed:
//  - time window: unix µs, or an RFC 3339 time (stored as unix µs); "" = the configured
//    start;
//  - cursor: any string (cursors are opaque; "" = the stream's start);
//  - snapshot: an entity table (entity_state.h); "" = empty, every entity new again.
#pragma once

#include <string>

#include "common/status.h"
#include "sources/connector_config.h"

namespace sluice {

// The value to commit, or InvalidArgument saying why `value` is refused.
Result<std::string> NormalizeCheckpoint(ConnectorKind kind, const std::string& value);

// The kind a durable checkpoint looks like, for `checkpoint set NAME` when the connector's
// configuration is not at hand: an entity table is a snapshot's, an integer a time
// window's, anything else a cursor.
ConnectorKind KindFromCheckpoint(const std::string& checkpoint);

}  // namespace sluice
