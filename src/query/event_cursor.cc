// EventCursor (event_cursor.h): versioned, checksummed, base64url.
#include "query/event_cursor.h"

#include "common/crc32c.h"

namespace sluice {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxEventIdBytes = 128;  // SPEC §2
// Years 0001..9999, the range every stored timestamp lies in (ingest/timestamp.h).
constexpr int64_t kMinMicros = -62135596800LL * 1000000;
constexpr int64_t kMaxMicros = 253402300800LL * 1000000 - 1;

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

void PutFixed32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return Status::InvalidArgument("base64url: bad length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = DecodeChar(c);
    if (v < 0) return Status::InvalidArgument("base64url: bad character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so each byte string has exactly one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return Status::InvalidArgument("base64url: bad padding");
  return out;
}

std::string EncodeEventCursor(const EventCursor& c) {
  std::string raw;
  raw.reserve(1 + 8 + c.event_id.size() + 4);
  raw.push_back(static_cast<char>(kVersion));
  const uint64_t ts = static_cast<uint64_t>(c.ts_us);
  for (int i = 7; i >= 0; --i) raw.push_back(static_cast<char>((ts >> (8 * i)) & 0xff));
  raw.append(c.event_id);
  PutFixed32(&raw, crc32c::Mask(crc32c::Value(raw)));
  return Base64UrlEncode(raw);
}

Result<EventCursor> DecodeEventCursor(std::string_view s) {
  auto bad = [](const char* why) {
    return Status::InvalidArgument(std::string("cursor: ") + why +
                                   "; pass next_cursor from a previous page unchanged");
  };
  if (s.size() > 2 * (1 + 8 + kMaxEventIdBytes + 4)) return bad("too long");
  auto raw = Base64UrlDecode(s);
  if (!raw.ok()) return bad("not base64url");
  const std::string_view r = *raw;
  if (r.size() < 1 + 8 + 1 + 4) return bad("too short");
  const std::string_view body = r.substr(0, r.size() - 4);
  if (crc32c::Unmask(static_cast<uint32_t>(GetBigEndian(r.substr(r.size() - 4)))) !=
      crc32c::Value(body)) {
    return bad("checksum mismatch");
  }
  if (static_cast<uint8_t>(body[0]) != kVersion) return bad("unknown version");
  EventCursor c;
  c.ts_us = static_cast<int64_t>(GetBigEndian(body.substr(1, 8)));
  c.event_id = std::string(body.substr(9));
  if (c.ts_us < kMinMicros || c.ts_us > kMaxMicros) return bad("timestamp out of range");
  if (c.event_id.size() > kMaxEventIdBytes) return bad("event id too long");
  return c;
}

}  // namespace sluice
