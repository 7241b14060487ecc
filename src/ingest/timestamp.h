// Timestamp normalization shared by every source (push, import, connectors): SPEC §2.
//
// Strings: RFC 3339 / ISO 8601 with any offset ("Z", "+05:30", "-0800"), 'T' or ' '
// between date and time, 0-9 fractional digits (truncated to µs). Numbers: unix time whose
// unit is chosen by magnitude — seconds (|x| < 1e11), milliseconds (< 1e14), microseconds
// (< 1e17), else nanoseconds; fractional seconds are kept to the µs. Result: UTC µs.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice {

Result<int64_t> ParseTimestampString(std::string_view s);
Result<int64_t> TimestampFromNumber(double x);
Result<int64_t> TimestampFromInteger(int64_t x);

}  // namespace sluice
