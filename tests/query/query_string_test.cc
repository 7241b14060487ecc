// ParseQueryString / PercentDecode: form-urlencoded rules, malformed escapes refused.
#include "query/query_string.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

QueryParams Parse(std::string_view s) {
  auto r = ParseQueryString(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : QueryParams{};
}

TEST(QueryStringTest, PairsInOrder) {
  EXPECT_EQ(Parse("/v1/events?type=click&limit=5"),
            (QueryParams{{"type", "click"}, {"limit", "5"}}));
  EXPECT_EQ(Parse("a=1&a=2"), (QueryParams{{"a", "1"}, {"a", "2"}}));
  EXPECT_TRUE(Parse("/v1/events").empty());
  EXPECT_TRUE(Parse("/v1/events?").empty());
}

TEST(QueryStringTest, Decoding) {
  EXPECT_EQ(Parse("?q=running+shoes%21&prop.a%2Eb=x%3Dy%26z"),
            (QueryParams{{"q", "running shoes!"}, {"prop.a.b", "x=y&z"}}));
  EXPECT_EQ(Parse("?plus=%2B&pct=%25&utf8=%C3%A9"),
            (QueryParams{{"plus", "+"}, {"pct", "%"}, {"utf8", "\xC3\xA9"}}));
  EXPECT_EQ(Parse("?from=2024-11-25T02:00:00%2B01:00"),
            (QueryParams{{"from", "2024-11-25T02:00:00+01:00"}}));
  EXPECT_EQ(Parse("?nul=%00"), (QueryParams{{"nul", std::string(1, '\0')}}));
}

TEST(QueryStringTest, EdgeShapes) {
  EXPECT_EQ(Parse("?&&a=1&&"), (QueryParams{{"a", "1"}}));
  EXPECT_EQ(Parse("?flag&b="), (QueryParams{{"flag", ""}, {"b", ""}}));
  EXPECT_EQ(Parse("?a==b"), (QueryParams{{"a", "=b"}}));
  EXPECT_EQ(Parse("?a=1#frag&b=2"), (QueryParams{{"a", "1"}}));
  EXPECT_EQ(Parse("?a=1?b=2"), (QueryParams{{"a", "1?b=2"}}));
}

TEST(QueryStringTest, MalformedEscapesAreErrors) {
  for (const char* bad : {"?a=%", "?a=%4", "?a=%zz", "?a=%4g", "?%=1", "?a=1&b=%0"}) {
    auto r = ParseQueryString(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("percent-escape"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice
