// The payload of a RecordType::kDeadLetter log record: events that their type's schema
// refused (SPEC §7), each with its error and the schema version that refused it.
//
// Dead letters go through the log like events so that the 202 which reports an event as
// refused is sent only once its dead letter is durable too; the store consumer moves them
// into the tenant's dead-letter table in the same transaction as its offset.
//
// Layout: [u32 count] then per event [varint error length][error][u32 schema version],
// then an event batch (event_codec.h) holding the `count` events in the same order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ingest/envelope_parser.h"

namespace sluice {

std::string EncodeDeadLetters(const std::vector<RejectedEvent>& rejected);
Status DecodeDeadLetters(std::string_view payload, std::vector<RejectedEvent>* out);

}  // namespace sluice
