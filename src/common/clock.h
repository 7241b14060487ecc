// Wall-clock time in the unit sluice stores: microseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

int64_t NowMicros();
// 2026-11-25T05:05:39.123456Z
std::string FormatRfc3339Micros(int64_t us);

}  // namespace sluice
