// The payload of RecordType::kConnectorBatch: one page of a pull connector's records plus
// the checkpoint that page moves it to, in ONE log record (SPEC §1.5, §4 "log").
//
// Writing both in one record is what makes the checkpoint atomic with the events it covers:
// after a crash either the record survived (events and checkpoint) or it did not (neither),
// so a connector never resumes past an event that was lost, nor re-stores one that was
// kept. A record is written even when every event in it was a duplicate, because the
// checkpoint still moves.
//
//   [u32 len][tenant][u32 len][connector][u32 len][checkpoint][event batch (event_codec.h)]
//   (u32 little-endian)
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct ConnectorCheckpoint {
  std::string tenant;
  std::string connector;
  std::string checkpoint;  // opaque to the log; its meaning belongs to the connector kind
};

std::string EncodeConnectorBatch(const ConnectorCheckpoint& header,
                                 std::string_view event_batch_payload);
// `events` points into `payload`. Corruption when the header is malformed.
Status DecodeConnectorBatch(std::string_view payload, ConnectorCheckpoint* header,
                            std::string_view* events);

}  // namespace sluice
