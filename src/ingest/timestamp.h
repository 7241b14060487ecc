// Timestamp normalization shared by every source (push, import, connectors): SPEC §2.
//
// Strings: RFC 3339 / ISO 8601 with any offset ("Z", "+05:30", "-0800", "+05"), 'T', 't'
// or ' ' between date and time, seconds optional, 0-9 fractional digits (truncated to µs),
// a leap second :60 pinned to :59.999999. A date-time without an offset is refused (its
// zone is unknown); a bare date "YYYY-MM-DD" is midnight UTC. A string that is a plain
// number ("1700000000", "1.7e9") is taken as a number: some APIs quote unix times.
// Numbers: unix time whose unit is chosen by magnitude — seconds (|x| < 1e11), milliseconds
// (< 1e14), microseconds (< 1e17), else nanoseconds; fractional seconds are kept to the µs
// (doubles rounded to the nearest µs, decimal strings and integers floored). Result: UTC
// µs within years 0001-9999, anything else is InvalidArgument("timestamp: ...").
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice {

Result<int64_t> ParseTimestampString(std::string_view s);
Result<int64_t> TimestampFromNumber(double x);
Result<int64_t> TimestampFromInteger(int64_t x);

}  // namespace sluice
