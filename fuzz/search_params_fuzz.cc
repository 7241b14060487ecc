// Any request target: the query string parser, the search request built from it and the
// cursor decoder never crash, and every refusal is an InvalidArgument; a cursor that
// decodes re-encodes to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "query/event_cursor.h"
#include "query/event_search.h"
#include "query/query_string.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto params = sluice::ParseQueryString(in);
  if (!params.ok()) {
    if (params.status().code() != sluice::Status::Code::kInvalidArgument) abort();
    return 0;
  }
  auto req = sluice::ParseEventSearchRequest("default", *params, 1000);
  if (!req.ok() && req.status().code() != sluice::Status::Code::kInvalidArgument) abort();
  if (req.ok() && (req->limit < 1 || req->limit > 1000)) abort();
  auto cursor = sluice::DecodeEventCursor(in);
  if (cursor.ok() && sluice::EncodeEventCursor(*cursor) != in) abort();
  return 0;
}
