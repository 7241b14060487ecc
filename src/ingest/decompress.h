// Request bodies arrive gzip- or zstd-compressed (Content-Encoding). Decompression is
// bounded: a body that inflates past `max_bytes` is refused without allocating it
// (a 5 MiB limit must hold against a zip bomb).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// encoding: "", "identity", "gzip", "x-gzip", "deflate", "zstd" (case-insensitive).
// ResourceExhausted if the output would exceed max_bytes; InvalidArgument if the bytes
// are not valid for the encoding or the encoding is unknown.
Status Decompress(std::string_view encoding, std::string_view in, size_t max_bytes,
                  std::string* out);

}  // namespace sluice
