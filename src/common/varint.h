// LEB128 varints: the length prefixes of the log's event and dead-letter codecs and the
// counts in HyperLogLog blobs. One copy, so every binary format agrees on what a valid
// varint is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Appends `v` in 1..10 bytes, 7 bits each, low groups first.
void PutVarint(std::string* out, uint64_t v);

// The same bytes written at `p`, which must have room for VarintLength(v); returns the end.
// Inline: encoders on the ingest path write several per event into a presized buffer.
inline char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Consumes a varint from the front of `in`. False if it is truncated or does not fit
// 64 bits; `in` is left as it was then.
bool GetVarint(std::string_view* in, uint64_t* v);

// How many bytes PutVarint writes for `v`: a reader that needs the canonical (shortest)
// form compares it with what GetVarint consumed.
int VarintLength(uint64_t v);

}  // namespace sluice
