// The one JSON string escaper: every JSON document sluice writes by hand (HTTP errors,
// query results, search pages, metadata files) quotes its strings here, so they all agree
// on what is escaped (quote, backslash, control characters; UTF-8 passes through).
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);

// `s` escaped for use between quotes.
std::string JsonEscape(std::string_view s);

}  // namespace sluice
