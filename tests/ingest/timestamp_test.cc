#include "ingest/timestamp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

namespace sluice {
namespace {

constexpr int64_t kS = 1000000;  // µs per second
// 2024-05-01T12:34:56Z
constexpr int64_t kRef = 1714566896 * kS;

int64_t Ok(std::string_view s) {
  Result<int64_t> r = ParseTimestampString(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : INT64_MIN;
}

std::string Err(std::string_view s) {
  Result<int64_t> r = ParseTimestampString(s);
  EXPECT_FALSE(r.ok()) << s << " parsed as " << (r.ok() ? *r : 0);
  EXPECT_TRUE(r.ok() || r.status().code() == Status::Code::kInvalidArgument);
  return r.status().message();
}

// "…Z" strings take a fixed-position fast path (timestamp.cc); the same instant written
// with "+00:00" takes the general one. They must agree on every date, time and fraction,
// and every "…Z" string the fast path does not accept must still get the general path's
// answer (a leap second, a lower-case separator, a bad digit).
TEST(TimestampString, FastUtcFormAgreesWithGeneralPath) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    char buf[64];
    const int year = 1 + static_cast<int>(rng() % 9999);
    const int month = 1 + static_cast<int>(rng() % 12);
    const int day = 1 + static_cast<int>(rng() % 31);  // some out of range for the month
    const int hour = static_cast<int>(rng() % 25), minute = static_cast<int>(rng() % 61);
    const int second = static_cast<int>(rng() % 62);
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute,
                  second);
    std::string base = buf;
    const int digits = static_cast<int>(rng() % 11);  // 0 = none, 10 = too many
    if (digits > 0) {
      base += '.';
      for (int d = 0; d < digits; ++d) base += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 50 == 0) base[static_cast<size_t>(rng() % base.size())] = 'x';
    Result<int64_t> fast = ParseTimestampString(base + "Z");
    Result<int64_t> general = ParseTimestampString(base + "+00:00");
    ASSERT_EQ(fast.ok(), general.ok()) << base;
    if (fast.ok()) {
      ASSERT_EQ(*fast, *general) << base;
    }
  }
  EXPECT_EQ(Ok("2024-05-01T12:34:56.123456789Z"), kRef + 123456);
  EXPECT_EQ(Ok("2024-05-01t12:34:56Z"), kRef);
  EXPECT_EQ(Ok("2024-05-01 12:34:56Z"), kRef);
  EXPECT_EQ(Ok("2016-12-31T23:59:60Z"), Ok("2016-12-31T23:59:59.999999Z"));
  // Refused by the fast path, worded by the general one.
  EXPECT_NE(Err("2024-05-01T12:34:56.Z").find("unexpected 'Z' at offset 20"), std::string::npos);
}

TEST(TimestampString, Offsets) {
  EXPECT_EQ(Ok("2024-05-01T12:34:56Z"), kRef);
  EXPECT_EQ(Ok("2024-05-01t12:34:56z"), kRef);
  EXPECT_EQ(Ok("2024-05-01 12:34:56Z"), kRef);
  EXPECT_EQ(Ok("2024-05-01T18:04:56+05:30"), kRef);
  EXPECT_EQ(Ok("2024-05-01T18:04:56+0530"), kRef);
  EXPECT_EQ(Ok("2024-05-01T04:34:56-0800"), kRef);
  EXPECT_EQ(Ok("2024-05-01T04:34:56-08:00"), kRef);
  EXPECT_EQ(Ok("2024-05-01T17:34:56+05"), kRef);
  EXPECT_EQ(Ok("2024-05-01T12:34:56+00:00"), kRef);
  EXPECT_EQ(Ok("2024-05-01T12:34:56-00:00"), kRef);
  EXPECT_EQ(Ok("2024-05-02T12:33:56+23:59"), kRef);
}

TEST(TimestampString, OptionalParts) {
  EXPECT_EQ(Ok("2024-05-01T12:34Z"), kRef - 56 * kS);
  EXPECT_EQ(Ok("2024-05-01T18:04+05:30"), kRef - 56 * kS);
  EXPECT_EQ(Ok("2024-05-01"), 1714521600 * kS);
}

TEST(TimestampString, Fractions) {
  EXPECT_EQ(Ok("2024-05-01T12:34:56.1Z"), kRef + 100000);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.12Z"), kRef + 120000);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.123Z"), kRef + 123000);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.1234Z"), kRef + 123400);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.12345Z"), kRef + 123450);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.123456Z"), kRef + 123456);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.1234567Z"), kRef + 123456);  // truncated, not rounded
  EXPECT_EQ(Ok("2024-05-01T12:34:56.12345678Z"), kRef + 123456);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.999999999Z"), kRef + 999999);
  EXPECT_EQ(Ok("2024-05-01T12:34:56.000000000+00:00"), kRef);
  EXPECT_EQ(Ok("2024-05-01T18:04:56.5+05:30"), kRef + 500000);
  EXPECT_NE(Err("2024-05-01T12:34:56.1234567890Z").find("more than 9 fractional digits"),
            std::string::npos);
  EXPECT_NE(Err("2024-05-01T12:34:56.Z").find("unexpected 'Z' at offset 20"), std::string::npos);
  Err("2024-05-01T12:34.5Z");  // a fraction needs seconds
}

TEST(TimestampString, Calendar) {
  EXPECT_EQ(Ok("2024-02-29T00:00:00Z"), 1709164800 * kS);
  EXPECT_EQ(Ok("2000-02-29T00:00:00Z"), 951782400 * kS);
  EXPECT_EQ(Err("2023-02-29T00:00:00Z"),
            "timestamp: day 29 out of range for 2023-02 in \"2023-02-29T00:00:00Z\"");
  Err("1900-02-29T00:00:00Z");
  Err("2100-02-29");
  Ok("2023-02-28");
  Ok("2024-04-30");
  Err("2024-04-31");
  Ok("2024-12-31");
  Err("2024-12-32");
  Err("2024-01-00");
  EXPECT_EQ(Err("2024-13-01T00:00:00Z"),
            "timestamp: month 13 out of range in \"2024-13-01T00:00:00Z\"");
  Err("2024-00-01");
  EXPECT_EQ(Ok("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Ok("1969-12-31T23:59:59.5Z"), -500000);
}

TEST(TimestampString, TimeRanges) {
  EXPECT_NE(Err("2024-05-01T24:00:00Z").find("hour 24 out of range"), std::string::npos);
  EXPECT_NE(Err("2024-05-01T23:60:00Z").find("minute 60 out of range"), std::string::npos);
  EXPECT_NE(Err("2024-05-01T23:59:61Z").find("second 61 out of range"), std::string::npos);
  EXPECT_NE(Err("2024-05-01T23:59:59+24:00").find("offset hour 24 out of range"),
            std::string::npos);
  EXPECT_NE(Err("2024-05-01T23:59:59+05:60").find("offset minute 60 out of range"),
            std::string::npos);
}

TEST(TimestampString, LeapSecond) {
  // Pinned to the last µs of the minute, even with a fraction.
  EXPECT_EQ(Ok("2016-12-31T23:59:60Z"), 1483228799 * kS + 999999);
  EXPECT_EQ(Ok("2016-12-31T23:59:60.5Z"), 1483228799 * kS + 999999);
  EXPECT_EQ(Ok("2017-01-01T05:29:60+05:30"), 1483228799 * kS + 999999);
}

TEST(TimestampString, YearBoundaries) {
  EXPECT_EQ(Ok("0001-01-01T00:00:00Z"), -62135596800 * kS);
  EXPECT_EQ(Ok("0001-01-01"), -62135596800 * kS);
  EXPECT_EQ(Ok("9999-12-31T23:59:59.999999Z"), 253402300799 * kS + 999999);
  EXPECT_EQ(Ok("9999-12-31T23:59:59.999999999Z"), 253402300799 * kS + 999999);
  EXPECT_NE(Err("0000-01-01T00:00:00Z").find("year 0000 out of range"), std::string::npos);
  // Valid local times whose UTC instant is outside the range.
  EXPECT_NE(Err("0001-01-01T00:00:00+00:01").find("outside years 0001-9999"), std::string::npos);
  Err("9999-12-31T23:59:59-00:01");
  Err("10000-01-01T00:00:00Z");
}

TEST(TimestampString, OffsetsCrossingDays) {
  // 2024-01-01T01:00:00Z
  EXPECT_EQ(Ok("2023-12-31T20:00:00-05:00"), 1704070800 * kS);
  // 2023-12-31T21:00:00Z
  EXPECT_EQ(Ok("2024-01-01T02:00:00+05:00"), 1704056400 * kS);
  // Across a leap day: 2024-02-29T22:00-05:00 is 2024-03-01T03:00Z.
  EXPECT_EQ(Ok("2024-02-29T22:00:00-05:00"), Ok("2024-03-01T03:00:00Z"));
  EXPECT_EQ(Ok("2024-03-01T01:00:00+02:00"), Ok("2024-02-29T23:00:00Z"));
}

TEST(TimestampString, Malformed) {
  EXPECT_EQ(Err(""), "timestamp: empty string");
  Err("hello");
  Err("2024-");
  Err("2024-5-1");
  Err("2024-05-1");
  Err("24-05-01");
  Err("2024/05/01");
  Err("2024-05-01T");
  Err("2024-05-01T12");
  Err("2024-05-01T12:3Z");
  Err("2024-05-01T1:30:00Z");
  Err("2024-05-01X12:34:56Z");
  EXPECT_NE(Err("2024-05-01T12:34:56").find("missing time zone"), std::string::npos);
  EXPECT_NE(Err("2024-05-01T12:34:56Zjunk").find("unexpected 'j' at offset 20"), std::string::npos);
  Err("2024-05-01T12:34:56+5");
  Err("2024-05-01T12:34:56+05:3");
  Err("2024-05-01T12:34:56+05:");
  Err("2024-05-01T12:34:56+053");
  Err("2024-05-01T12:34:56+05:30:00");
  Err("2024-05-01T12:34:56 Z");
  Err(" 2024-05-01T12:34:56Z");
  Err("2024-05-01T12:34:56Z ");
  Err("2024-05-01 ");
  Err("2024-05-01T12:34:56GMT");
  Err(std::string_view("2024-05-01\0", 11));
  EXPECT_NE(Err("2024-05-01T12:34:56\x01").find("byte 0x01"), std::string::npos);
  Err("-");
  Err("1.2.3");
  Err("1e");
  Err("--1");
  Err("0x10");
  Err("NaN");
  Err("Infinity");
}

TEST(TimestampString, LongInputIsEchoedBounded) {
  const std::string s = "2024-05-01T12:34:56Z" + std::string(1000, 'x');
  const std::string msg = Err(s);
  EXPECT_LT(msg.size(), 200u);
  EXPECT_NE(msg.find("...\""), std::string::npos);
  // Truncation never splits a UTF-8 sequence.
  std::string utf8 = "2024-05-01T12:34:56Z";
  while (utf8.size() < 200) utf8 += "\xC3\xA9";
  const std::string msg2 = Err(utf8);
  const size_t end = msg2.rfind("...");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(static_cast<unsigned char>(msg2[end - 1]), 0xC3);
}

TEST(TimestampString, NumericStrings) {
  EXPECT_EQ(Ok("1700000000"), 1700000000 * kS);
  EXPECT_EQ(Ok("2024"), 2024 * kS);
  EXPECT_EQ(Ok("0"), 0);
  EXPECT_EQ(Ok("1700000000123"), 1700000000123000);
  EXPECT_EQ(Ok("1700000000123456"), 1700000000123456);
  EXPECT_EQ(Ok("1700000000123456789"), 1700000000123456);
  EXPECT_EQ(Ok("1700000000.123456"), 1700000000123456);
  EXPECT_EQ(Ok("1700000000.1234569"), 1700000000123456);  // exact decimal, floored
  EXPECT_EQ(Ok("1700000000.5"), 1700000000500000);
  EXPECT_EQ(Ok("1700000000123.456"), 1700000000123456);
  EXPECT_EQ(Ok("1700000000123456.9"), 1700000000123456);
  EXPECT_EQ(Ok("-1.5"), -1500000);
  EXPECT_EQ(Ok("-1.0000005"), -1000001);  // floored toward the past
  EXPECT_EQ(Ok("-86400"), -86400 * kS);
  EXPECT_EQ(Ok("1.7e9"), 1700000000 * kS);
  EXPECT_EQ(Ok("17E8"), 1700000000 * kS);
  Err("99999999999999999999999");
  Err("1e30");
  Err("-99999999999");  // seconds, before year 1
}

TEST(TimestampNumber, IntegerUnitsByMagnitude) {
  EXPECT_EQ(TimestampFromInteger(1700000000).value(), 1700000000 * kS);
  EXPECT_EQ(TimestampFromInteger(99999999999).value(), 99999999999 * kS);      // last seconds
  EXPECT_EQ(TimestampFromInteger(100000000000).value(), 100000000000 * 1000);  // first ms
  EXPECT_EQ(TimestampFromInteger(1700000000123).value(), 1700000000123000);
  EXPECT_EQ(TimestampFromInteger(1700000000123456).value(), 1700000000123456);
  EXPECT_EQ(TimestampFromInteger(1700000000123456789).value(), 1700000000123456);
  EXPECT_EQ(TimestampFromInteger(0).value(), 0);
  EXPECT_EQ(TimestampFromInteger(-86400).value(), -86400 * kS);
  EXPECT_EQ(TimestampFromInteger(-1700000000123).value(), -1700000000123000);
  EXPECT_EQ(TimestampFromInteger(-1700000000123456).value(), -1700000000123456);
  EXPECT_EQ(TimestampFromInteger(-1700000000123456789).value(), -1700000000123457);  // floor
  EXPECT_EQ(TimestampFromInteger(-62135596800).value(), -62135596800 * kS);          // 0001-01-01
  EXPECT_FALSE(TimestampFromInteger(-62135596801).ok());
  // The int64 extremes are nanoseconds in 2262 and 1677.
  EXPECT_EQ(TimestampFromInteger(INT64_MAX).value(), INT64_MAX / 1000);
  EXPECT_EQ(TimestampFromInteger(INT64_MIN).value(), INT64_MIN / 1000 - 1);
  EXPECT_EQ(TimestampFromInteger(-62135596801).status().message(),
            "timestamp: -62135596801 is outside years 0001-9999");
}

TEST(TimestampNumber, Doubles) {
  EXPECT_EQ(TimestampFromNumber(1700000000.0).value(), 1700000000 * kS);
  EXPECT_EQ(TimestampFromNumber(1700000000.5).value(), 1700000000500000);
  EXPECT_EQ(TimestampFromNumber(1700000000.123456).value(), 1700000000123456);  // rounded
  EXPECT_EQ(TimestampFromNumber(1700000000123.5).value(), 1700000000123500);
  EXPECT_EQ(TimestampFromNumber(1700000000123456.0).value(), 1700000000123456);
  EXPECT_EQ(TimestampFromNumber(1.7e18).value(), 1700000000000000);
  EXPECT_EQ(TimestampFromNumber(-1.5).value(), -1500000);
  EXPECT_EQ(TimestampFromNumber(-0.000001).value(), -1);
  EXPECT_EQ(TimestampFromNumber(0.0).value(), 0);
  EXPECT_FALSE(TimestampFromNumber(std::nan("")).ok());
  EXPECT_FALSE(TimestampFromNumber(std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(TimestampFromNumber(-std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(TimestampFromNumber(1e21).ok());
  EXPECT_FALSE(TimestampFromNumber(-1e300).ok());
  EXPECT_FALSE(TimestampFromNumber(-7e10).ok());  // seconds before year 1
  EXPECT_EQ(TimestampFromNumber(1e21).status().message(),
            "timestamp: 1e+21 is outside years 0001-9999");
}

}  // namespace
}  // namespace sluice
