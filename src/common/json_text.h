// The one JSON string escaper: every JSON document sluice writes by hand (HTTP errors,
// query results, search pages, metadata files) quotes its strings here, so they all agree
// on what is escaped (quote, backslash, control characters; UTF-8 passes through).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);

// Writes `s` as a quoted JSON string at `out`, which must have room for
// JsonStringBound(s.size()) bytes; returns the end of what was written. For writers that
// check capacity once per value rather than once per byte (envelope_parser.cc).
char* WriteJsonString(char* out, std::string_view s);
constexpr size_t JsonStringBound(size_t bytes) { return 6 * bytes + 2; }

// `s` escaped for use between quotes.
std::string JsonEscape(std::string_view s);

}  // namespace sluice
