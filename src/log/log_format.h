// The on-disk shape of one log record (see log.h for segments and offsets).
//
//   +-----------------+-----------------+--------+----------------------+
//   | masked crc32c:4 | payload length:4| type:1 | payload (length)     |
//   +-----------------+-----------------+--------+----------------------+
//   little-endian; the CRC covers the type byte and the payload.
//
// Unlike LevelDB we do not fragment records into 32 KiB blocks: a record is one request's
// batch (<= a few MiB) and is written whole; recovery relies on the length bound and CRC.
#pragma once

#include <cstdint>

namespace sluice {

enum class RecordType : uint8_t {
  kEventBatch = 1,  // payload: an encoded event batch (ingest/event_codec.h)
  // payload: tenant + connector + checkpoint + event batch (ingest/connector_batch.h)
  kConnectorBatch = 2,
  kDeadLetter = 3,  // payload: events a schema refused, with errors (dead_letter_codec.h)
};

constexpr uint32_t kLogHeaderSize = 9;
constexpr uint32_t kMaxRecordPayload = 64u << 20;

}  // namespace sluice
