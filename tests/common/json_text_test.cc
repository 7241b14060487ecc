// The escaper skips clean 8-byte words whole (json_text.cc): every byte that needs
// escaping must be found wherever it sits relative to those words, and no clean byte
// (UTF-8 included) may be mistaken for one.
#include "common/json_text.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

// The escaper, byte by byte, as the spec of what it must produce.
std::string SlowEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// WriteJsonString into a buffer of exactly JsonStringBound bytes, with a guard after it.
std::string Written(std::string_view s) {
  const size_t bound = JsonStringBound(s.size());
  std::string buf(bound + 8, '#');
  char* end = WriteJsonString(buf.data(), s);
  EXPECT_LE(static_cast<size_t>(end - buf.data()), bound);
  EXPECT_EQ(buf.substr(bound), std::string(8, '#'));  // nothing written past the bound
  return buf.substr(0, end - buf.data());
}

TEST(JsonTextTest, EveryByteAtEveryPositionOfAWord) {
  for (int c = 0; c < 256; ++c) {
    for (size_t len = 1; len <= 40; ++len) {  // up to two 16-byte blocks and a tail
      for (size_t pos = 0; pos < len; ++pos) {
        std::string s(len, 'a');
        s[pos] = static_cast<char>(c);
        ASSERT_EQ(JsonEscape(s), SlowEscape(s)) << "byte " << c << " at " << pos << " of " << len;
        ASSERT_EQ(Written(s), "\"" + SlowEscape(s) + "\"")
            << "byte " << c << " at " << pos << " of " << len;
      }
    }
  }
}

TEST(JsonTextTest, Utf8AndHighBytesPassThrough) {
  const std::string s =
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x80\xff\xa2\xdc";  // é € 😀, stray bytes
  EXPECT_EQ(JsonEscape(s), s);
  std::string out;
  AppendJsonString(&out, s);
  EXPECT_EQ(out, "\"" + s + "\"");
}

TEST(JsonTextTest, MixedAndEmpty) {
  EXPECT_EQ(JsonEscape(""), "");
  EXPECT_EQ(Written(""), "\"\"");
  // The worst case of the bound: every byte a control character (6 bytes each).
  const std::string controls(40, '\x01');
  EXPECT_EQ(Written(controls).size(), JsonStringBound(controls.size()));
  const std::string s = std::string("0123456789abcdef\"tab\there\x01\x1f\x7f end \\");
  EXPECT_EQ(JsonEscape(s), SlowEscape(s));
  EXPECT_EQ(Written(s), "\"" + SlowEscape(s) + "\"");
  EXPECT_EQ(JsonEscape(std::string(64, 'x') + "\n"), std::string(64, 'x') + "\\n");
}

}  // namespace
}  // namespace sluice
