#include "ingest/timestamp.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

namespace sluice {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
// Own arithmetic instead of timegm: no locale, no TZ environment, no 32-bit time_t limits.
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);            // [0, 399]
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The representable range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
constexpr int64_t kMinMicros = DaysFromCivil(1, 1, 1) * kMicrosPerDay;
constexpr int64_t kMaxMicros = DaysFromCivil(10000, 1, 1) * kMicrosPerDay - 1;

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The input as it appears in an error message: bounded, so a 32 KiB string cannot blow up
// an error response, and cut on a UTF-8 boundary so the message stays valid text.
std::string Echo(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return "\"" + std::string(s) + "\"";
  size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return "\"" + std::string(s.substr(0, n)) + "...\"";
}

Status Error(std::string_view what, std::string_view input) {
  return Status::InvalidArgument("timestamp: " + std::string(what) + " in " + Echo(input));
}

std::string DescribeAt(std::string_view s, size_t pos) {
  if (pos >= s.size()) return "unexpected end";
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  std::string what = "unexpected ";
  if (c >= 0x20 && c < 0x7f) {
    what += '\'';
    what += static_cast<char>(c);
    what += '\'';
  } else {
    static const char* kHex = "0123456789abcdef";
    what += "byte 0x";
    what += kHex[c >> 4];
    what += kHex[c & 15];
  }
  return what + " at offset " + std::to_string(pos);
}

// Reads exactly `n` digits at `*pos`.
bool ReadDigits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

// The offset of the first byte in s[pos..] that is not a digit, or s.size().
size_t SkipDigits(std::string_view s, size_t pos) {
  while (pos < s.size() && IsDigit(s[pos])) ++pos;
  return pos;
}

Result<int64_t> CheckRange(int64_t us, std::string_view input) {
  if (us < kMinMicros || us > kMaxMicros) return Error("outside years 0001-9999", input);
  return us;
}

// "1700000000", "-86400", "1700000000.25": unix time sent as a JSON string. Plain decimals
// are converted exactly (no detour through double), the sub-µs rest floored like a date's
// fraction; exponent forms ("1.7e9") are rare enough to go through double.
Result<int64_t> ParseNumericString(std::string_view s) {
  const bool neg = s[0] == '-';
  const size_t int_begin = neg ? 1 : 0;
  const size_t int_end = SkipDigits(s, int_begin);
  size_t frac_begin = int_end, frac_end = int_end;
  if (int_end < s.size() && s[int_end] == '.') {
    frac_begin = int_end + 1;
    frac_end = SkipDigits(s, frac_begin);
  }
  if (frac_end != s.size()) {
    double x = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec == std::errc::result_out_of_range) return Error("outside years 0001-9999", s);
    if (ec != std::errc() || p != s.data() + s.size()) return Error("not a number", s);
    Result<int64_t> r = TimestampFromNumber(x);
    if (!r.ok()) return Error("outside years 0001-9999", s);
    return r;
  }
  uint64_t whole = 0;
  auto [p, ec] = std::from_chars(s.data() + int_begin, s.data() + int_end, whole);
  if (ec != std::errc() || whole > static_cast<uint64_t>(INT64_MAX)) {
    return Error("outside years 0001-9999", s);
  }
  // Unit by magnitude as in TimestampFromInteger (|x| < 1e11 iff its integer part is), as
  // a power of ten: µs = x * 10^scale.
  const int scale = whole < 100000000000ull         ? 6
                    : whole < 100000000000000ull    ? 3
                    : whole < 100000000000000000ull ? 0
                                                    : -3;
  const std::string_view frac = s.substr(frac_begin, frac_end - frac_begin);
  int64_t mag = static_cast<int64_t>(whole);  // |x| in µs, floored; < 1e17, no overflow
  bool inexact = false;                       // whether |x| had a sub-µs rest
  if (scale < 0) {
    inexact = mag % 1000 != 0;
    mag /= 1000;
  }
  for (size_t i = 0; i < frac.size(); ++i) {
    if (static_cast<int>(i) < scale) continue;
    inexact |= frac[i] != '0';
  }
  for (int i = 0; i < scale; ++i) {
    mag = mag * 10 + (static_cast<size_t>(i) < frac.size() ? frac[i] - '0' : 0);
  }
  return CheckRange(neg ? -mag - (inexact ? 1 : 0) : mag, s);
}

// The form nearly every SDK sends, "YYYY-MM-DDTHH:MM:SS[.f...]Z", read at fixed positions
// (the general path below cost ~9% of the envelope parser). Anything else, every invalid
// string included, returns nullopt and takes the general path, which also words the errors.
std::optional<int64_t> ParseUtcFast(std::string_view s) {
  const size_t n = s.size();
  if (n < 20 || s[n - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  auto two = [&](size_t i, int* v) {
    const unsigned hi = static_cast<unsigned char>(s[i]) - '0';
    const unsigned lo = static_cast<unsigned char>(s[i + 1]) - '0';
    *v = static_cast<int>(hi * 10 + lo);
    return hi <= 9 && lo <= 9;
  };
  int century, year2, month, day, hour, minute, second;
  if (!two(0, &century) || !two(2, &year2) || !two(5, &month) || !two(8, &day) || !two(11, &hour) ||
      !two(14, &minute) || !two(17, &second)) {
    return std::nullopt;
  }
  const int year = century * 100 + year2;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;  // a leap second too: the general path pins it
  }
  int64_t frac_us = 0;
  if (n > 20) {
    const size_t digits = n - 21;  // between the '.' and the 'Z'
    if (s[19] != '.' || digits < 1 || digits > 9) return std::nullopt;
    for (size_t i = 0; i < digits; ++i) {
      const unsigned d = static_cast<unsigned char>(s[20 + i]) - '0';
      if (d > 9) return std::nullopt;
      if (i < 6) frac_us = frac_us * 10 + d;  // truncated to µs, as below
    }
    for (size_t i = digits; i < 6; ++i) frac_us *= 10;
  }
  return DaysFromCivil(year, month, day) * kMicrosPerDay +
         ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + frac_us;
}

bool LooksNumeric(std::string_view s) {
  size_t pos = s[0] == '-' ? 1 : 0;
  if (pos >= s.size() || !IsDigit(s[pos])) return false;
  // A date has '-' right after its 4 year digits; a number never has an inner '-' except in
  // an exponent, which follows 'e'.
  for (size_t i = pos; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+') continue;
    if (c == '-' && (s[i - 1] == 'e' || s[i - 1] == 'E')) continue;
    return false;
  }
  return true;
}

}  // namespace

Result<int64_t> ParseTimestampString(std::string_view s) {
  if (s.empty()) return Status::InvalidArgument("timestamp: empty string");
  if (std::optional<int64_t> us = ParseUtcFast(s)) return *us;
  if (LooksNumeric(s)) return ParseNumericString(s);

  size_t pos = 0;
  int year, month, day;
  if (!ReadDigits(s, &pos, 4, &year)) return Error(DescribeAt(s, SkipDigits(s, 0)), s);
  if (pos >= s.size() || s[pos] != '-') return Error(DescribeAt(s, pos), s);
  ++pos;
  if (!ReadDigits(s, &pos, 2, &month)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
  if (pos >= s.size() || s[pos] != '-') return Error(DescribeAt(s, pos), s);
  ++pos;
  if (!ReadDigits(s, &pos, 2, &day)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
  if (year < 1) return Error("year 0000 out of range", s);
  if (month < 1 || month > 12) return Error("month " + std::to_string(month) + " out of range", s);
  if (day < 1 || day > DaysInMonth(year, month)) {
    return Error("day " + std::to_string(day) + " out of range for " + std::string(s.substr(0, 7)),
                 s);
  }
  const int64_t days = DaysFromCivil(year, month, day);
  if (pos == s.size()) return days * kMicrosPerDay;  // date only: midnight UTC

  const char sep = s[pos];
  if (sep != 'T' && sep != 't' && sep != ' ') return Error(DescribeAt(s, pos), s);
  ++pos;
  int hour, minute, second = 0;
  int64_t frac_us = 0;
  if (!ReadDigits(s, &pos, 2, &hour)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
  if (pos >= s.size() || s[pos] != ':') return Error(DescribeAt(s, pos), s);
  ++pos;
  if (!ReadDigits(s, &pos, 2, &minute)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!ReadDigits(s, &pos, 2, &second)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      const size_t end = SkipDigits(s, pos);
      const size_t n = end - pos;
      if (n == 0) return Error(DescribeAt(s, pos), s);
      if (n > 9) return Error("more than 9 fractional digits", s);
      for (size_t i = 0; i < 6; ++i) frac_us = frac_us * 10 + (i < n ? s[pos + i] - '0' : 0);
      pos = end;
    }
  }
  if (hour > 23) return Error("hour " + std::to_string(hour) + " out of range", s);
  if (minute > 59) return Error("minute " + std::to_string(minute) + " out of range", s);
  if (second > 60) return Error("second " + std::to_string(second) + " out of range", s);
  if (second == 60) {
    // A leap second has no µs of its own in unix time; pin it to the last µs of its minute
    // so order within the minute is kept and it never spills into the next one.
    second = 59;
    frac_us = kMicrosPerSecond - 1;
  }

  if (pos == s.size()) return Error("missing time zone (Z or +HH:MM)", s);
  int64_t offset_minutes = 0;
  const char z = s[pos];
  if (z == 'Z' || z == 'z') {
    ++pos;
  } else if (z == '+' || z == '-') {
    ++pos;
    int oh, om = 0;
    if (!ReadDigits(s, &pos, 2, &oh)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
    if (pos < s.size()) {
      if (s[pos] == ':') ++pos;
      if (!ReadDigits(s, &pos, 2, &om)) return Error(DescribeAt(s, SkipDigits(s, pos)), s);
    }
    if (oh > 23) return Error("offset hour " + std::to_string(oh) + " out of range", s);
    if (om > 59) return Error("offset minute " + std::to_string(om) + " out of range", s);
    offset_minutes = (oh * 60 + om) * (z == '-' ? -1 : 1);
  } else {
    return Error(DescribeAt(s, pos), s);
  }
  if (pos != s.size()) return Error(DescribeAt(s, pos), s);

  const int64_t local_us =
      days * kMicrosPerDay + ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + frac_us;
  // Local time = UTC + offset.
  return CheckRange(local_us - offset_minutes * 60 * kMicrosPerSecond, s);
}

Result<int64_t> TimestampFromNumber(double x) {
  if (!std::isfinite(x)) return Status::InvalidArgument("timestamp: number is not finite");
  const double ax = std::fabs(x);
  double us;
  if (ax < 1e11) {
    us = x * 1e6;
  } else if (ax < 1e14) {
    us = x * 1e3;
  } else if (ax < 1e17) {
    us = x;
  } else {
    us = x / 1e3;
  }
  // Rounded, not truncated: a double rarely holds a decimal fraction exactly (.123456 may be
  // .12345599...), and truncating would lose a µs the client did send.
  us = std::nearbyint(us);
  if (!(us >= static_cast<double>(kMinMicros) && us <= static_cast<double>(kMaxMicros))) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x);
    return Status::InvalidArgument("timestamp: " + std::string(buf, ec == std::errc() ? p : buf) +
                                   " is outside years 0001-9999");
  }
  return static_cast<int64_t>(us);
}

Result<int64_t> TimestampFromInteger(int64_t x) {
  int64_t us;
  if (x > -100000000000 && x < 100000000000) {
    us = x * kMicrosPerSecond;
  } else if (x > -100000000000000 && x < 100000000000000) {
    us = x * 1000;
  } else if (x > -100000000000000000 && x < 100000000000000000) {
    us = x;
  } else {
    // Floor, so a pre-1970 instant is truncated toward the past like a positive one.
    us = x / 1000 - (x % 1000 < 0 ? 1 : 0);
  }
  if (us < kMinMicros || us > kMaxMicros) {
    return Status::InvalidArgument("timestamp: " + std::to_string(x) +
                                   " is outside years 0001-9999");
  }
  return us;
}

}  // namespace sluice
