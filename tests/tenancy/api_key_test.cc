#include "tenancy/api_key.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice {
namespace {

std::string Key(Result<std::string> r) { return r.ok() ? *r : "<" + r.status().message() + ">"; }
Role RoleOf(Result<Role> r) { return r.ok() ? *r : Role::kRead; }

TEST(ApiKeyTest, KeysAreLongRandomAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto k = GenerateApiKey();
    ASSERT_TRUE(k.ok());
    ASSERT_EQ(k->size(), 46u);
    EXPECT_EQ(k->substr(0, 3), "sk_");
    for (char c : k->substr(3))
      EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    EXPECT_TRUE(seen.insert(*k).second);
  }
}

TEST(ApiKeyTest, HashIsSha256Hex) {
  // SHA-256("abc"), FIPS 180-2 test vector.
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyTest, BearerAndBasicCarryTheKey) {
  EXPECT_EQ(Key(ApiKeyFromAuthorization("Bearer sk_abc")), "sk_abc");
  EXPECT_EQ(Key(ApiKeyFromAuthorization("bearer   sk_abc  ")), "sk_abc");
  // Basic base64("sk_abc:") and base64("sk_abc") and base64("sk_abc:ignored").
  EXPECT_EQ(Key(ApiKeyFromAuthorization("Basic c2tfYWJjOg==")), "sk_abc");
  EXPECT_EQ(Key(ApiKeyFromAuthorization("Basic c2tfYWJj")), "sk_abc");
  EXPECT_EQ(Key(ApiKeyFromAuthorization("BASIC c2tfYWJjOmlnbm9yZWQ=")), "sk_abc");
}

TEST(ApiKeyTest, MalformedHeadersAreUnauthenticated) {
  for (const char* h : {"", "   ", "Bearer", "Bearer ", "Bearer a b", "Token sk_abc", "sk_abc",
                        "Basic", "Basic !!!", "Basic Og==" /* ":" */, "Basic a"}) {
    auto k = ApiKeyFromAuthorization(h);
    EXPECT_FALSE(k.ok()) << h;
    if (!k.ok()) {
      EXPECT_EQ(k.status().code(), Status::Code::kUnauthenticated) << h;
    }
  }
}

TEST(ApiKeyTest, RolesParse) {
  EXPECT_EQ(RoleOf(ParseRole("write")), Role::kWrite);
  EXPECT_EQ(RoleOf(ParseRole("read")), Role::kRead);
  EXPECT_EQ(RoleOf(ParseRole("admin")), Role::kAdmin);
  EXPECT_FALSE(ParseRole("root").ok());
}

}  // namespace
}  // namespace sluice
