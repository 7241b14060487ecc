// EventCursor: the opaque `cursor` of GET /v1/events (SPEC §3.2) — the position of the last
// event of a page in the search order (ts DESC, event_id DESC).
//
// A position, not a snapshot or an offset: the next page is "events strictly older than
// (ts, event_id)", so it stays correct while new events arrive (they sort before the
// position) and while hours move between the hot table and Parquet (the key is the same
// in both). Holding no server state, a cursor never expires.
//
// Wire form: base64url (no padding) of
//   version (1 byte, = 1) | ts µs (8 bytes, big-endian) | event_id | masked CRC32C (4 bytes)
// The checksum makes an edited or truncated cursor a clear 400 rather than a page from a
// position nobody asked for. It is not a secret: a cursor grants nothing, since the
// tenant comes from the caller's key and filters from the request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct EventCursor {
  int64_t ts_us = 0;
  std::string event_id;
};

// The search order, newest first: whether (ts_a, id_a) comes before (ts_b, id_b), i.e.
// ts DESC, then event_id DESC in byte order (as DuckDB compares VARCHAR).
inline bool SortsBefore(int64_t ts_a, std::string_view id_a, int64_t ts_b, std::string_view id_b) {
  return ts_a != ts_b ? ts_a > ts_b : id_a > id_b;
}

std::string EncodeEventCursor(const EventCursor& c);
// InvalidArgument("cursor: ...") for anything EncodeEventCursor did not produce.
Result<EventCursor> DecodeEventCursor(std::string_view s);

// RFC 4648 §5 base64url without padding; decoding refuses padding, whitespace and
// non-canonical trailing bits.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace sluice
