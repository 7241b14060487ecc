#include "common/json_text.h"

#include <cstdint>
#include <cstring>

#include <emmintrin.h>  // SSE2

namespace sluice {

namespace {

// Whether any of the 8 bytes in w is < 0x20, '"' or '\\' (SWAR: each test sets the high
// bit of a byte that matches; the high-bit-set bytes of w itself, UTF-8, never match).
bool AnyNeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t control = (w - kOnes * 0x20) & ~w & kHigh;  // byte < 0x20
  return (control | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\\'))) != 0;
}

// The escape sequence for one byte that needs it (a quote, a backslash or a control
// character), written at `out`; returns its length (2 or 6). Both escapers below use it,
// so they agree byte for byte.
size_t EscapeByte(unsigned char c, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out[0] = '\\';
  switch (c) {
    case '"':
      out[1] = '"';
      return 2;
    case '\\':
      out[1] = '\\';
      return 2;
    case '\n':
      out[1] = 'n';
      return 2;
    case '\r':
      out[1] = 'r';
      return 2;
    case '\t':
      out[1] = 't';
      return 2;
    case '\b':
      out[1] = 'b';
      return 2;
    case '\f':
      out[1] = 'f';
      return 2;
    default:
      out[1] = 'u';
      out[2] = '0';
      out[3] = '0';
      out[4] = kHex[c >> 4];
      out[5] = kHex[c & 15];
      return 6;
  }
}

bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// Whether any of n < 16 bytes at p needs escaping, from overlapping word loads that stay
// inside [p, p + n): two 8-byte words from 8 bytes on, two 4-byte halves of one from 4.
bool TailNeedsEscape(const char* p, size_t n) {
  if (n >= 8) {
    uint64_t head, tail;
    std::memcpy(&head, p, 8);
    std::memcpy(&tail, p + n - 8, 8);
    return AnyNeedsEscape(head) || AnyNeedsEscape(tail);
  }
  if (n >= 4) {
    uint32_t head, tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    return AnyNeedsEscape(uint64_t{head} | uint64_t{tail} << 32);
  }
  for (size_t i = 0; i < n; ++i) {
    if (NeedsEscape(static_cast<unsigned char>(p[i]))) return true;
  }
  return false;
}

// Bytes that need no escaping are appended in runs: on the ingest path (properties are
// re-serialized, envelope_parser.cc) this is most of the time spent in JSON output.
void AppendEscaped(std::string* out, std::string_view s) {
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  size_t i = 0;
  // Most strings need no escaping at all: skip them 8 bytes at a time, and only look at
  // bytes one by one from the first word that may hold one to escape.
  while (i + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (AnyNeedsEscape(w)) break;
    i += 8;
  }
  for (; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!NeedsEscape(c)) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    char seq[6];
    out->append(seq, EscapeByte(c, seq));
  }
  out->append(s.data() + run, s.size() - run);
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  AppendEscaped(out, s);
  out->push_back('"');
}

char* WriteJsonString(char* out, std::string_view s) {
  *out++ = '"';
  const char* p = s.data();
  const char* const end = p + s.size();
  // 16 bytes at a time (SSE2, in every x86-64): a clean block is stored whole; otherwise
  // the bytes before the first one to escape are (the block is stored whole anyway: the
  // bound leaves room), then that byte's escape. Stores may run up to 15 bytes past what
  // is kept, which the bound covers once a string has 16 bytes (6 * 16 + 2 >= 16 + 16).
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i below_space = _mm_set1_epi8(0x1f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space));  // v <= 0x1f
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hits));
    if (mask == 0) {
      p += 16;
      out += 16;
      continue;
    }
    const int clean = __builtin_ctz(mask);
    p += clean;
    out += clean;
    out += EscapeByte(static_cast<unsigned char>(*p++), out);
  }
  // The last 0-15 bytes (and every short string, keys mostly): when none needs escaping,
  // one copy; otherwise byte by byte.
  if (p < end && !TailNeedsEscape(p, end - p)) {
    std::memcpy(out, p, end - p);
    out += end - p;
    p = end;
  }
  for (; p < end; ++p) {
    const unsigned char c = static_cast<unsigned char>(*p);
    if (NeedsEscape(c)) {
      out += EscapeByte(c, out);
    } else {
      *out++ = static_cast<char>(c);
    }
  }
  *out++ = '"';
  return out;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendEscaped(&out, s);
  return out;
}

}  // namespace sluice
