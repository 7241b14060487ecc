// UUIDv7 (RFC 9562): the event_id sluice assigns when a client sends none.
// Time-ordered, so server-assigned ids sort by arrival; 74 random bits make them unique
// without coordination, so they are never looked up in the dedupe index.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

std::string NewUuidV7(int64_t now_us);

}  // namespace sluice
