#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/fingerprint.h"
#include "common/uuid.h"

namespace sluice {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  char zeros[32] = {};
  EXPECT_EQ(crc32c::Value(zeros, 32), 0x8a9136aau);
  char ones[32];
  std::fill(ones, ones + 32, static_cast<char>(0xff));
  EXPECT_EQ(crc32c::Value(ones, 32), 0x62a8ab43u);
  char inc[32];
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c::Value(inc, 32), 0x46dd794eu);
  EXPECT_EQ(crc32c::Value("123456789", 9), 0xe3069283u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string s = "hello world, this is a longer string to cross 8-byte words";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(crc32c::Extend(crc32c::Value(s.data(), cut), s.data() + cut, s.size() - cut),
              crc32c::Value(s));
  }
}

TEST(Crc32cTest, MaskRoundTrip) {
  uint32_t c = crc32c::Value("foo", 3);
  EXPECT_NE(crc32c::Mask(c), c);
  EXPECT_EQ(crc32c::Unmask(crc32c::Mask(c)), c);
}

TEST(FingerprintTest, TenantBoundaryMatters) {
  EXPECT_FALSE(FingerprintOf("ab", "c") == FingerprintOf("a", "bc"));
  EXPECT_TRUE(FingerprintOf("t", "id") == FingerprintOf("t", "id"));
  std::string long_id(1000, 'x');
  EXPECT_FALSE(FingerprintOf("t", long_id) == FingerprintOf("t", long_id + "y"));
}

TEST(UuidTest, V7FormatAndUniqueness) {
  std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  int64_t now = NowMicros();
  for (int i = 0; i < 10000; ++i) {
    std::string u = NewUuidV7(now);
    ASSERT_TRUE(std::regex_match(u, re)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 10000u);
  // The first 48 bits are the millisecond timestamp, so ids sort by time.
  EXPECT_LT(NewUuidV7(1000000000), NewUuidV7(2000000000));
}

TEST(ClockTest, FormatRfc3339) {
  EXPECT_EQ(FormatRfc3339Micros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(1700000000123456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatRfc3339Micros(-1), "1969-12-31T23:59:59.999999Z");
}

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::string path = "/tmp/sluice-config-test-" + std::to_string(::getpid()) + ".toml";
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(ConfigTest, DefaultsWithoutFile) {
  auto c = LoadConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_EQ(c->max_event_bytes, 32u * 1024);
  EXPECT_EQ(c->max_request_bytes, 5u << 20);
}

TEST_F(ConfigTest, StoreCheckpointBytes) {
  auto c = LoadConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store_checkpoint_bytes, 128u << 20);  // not DuckDB's 16 MiB (event_store.h)
  auto p = Write("[store]\ncheckpoint_bytes = 33554432\n");
  c = LoadConfig(p);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store_checkpoint_bytes, 32u << 20);
  p = Write("[store]\ncheckpoint_bytes = 1000\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("[store] checkpoint_bytes must be >= 1048576"),
            std::string::npos)
      << c.status().message();
  std::remove(p.c_str());
}

TEST_F(ConfigTest, LogDirectIo) {
  auto c = LoadConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->log_direct_io);  // on by default: log/segment_writer.h says why
  auto p = Write("[log]\ndirect_io = false\n");
  c = LoadConfig(p);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->log_direct_io);
  p = Write("[log]\ndirect_io = 1\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("direct_io"), std::string::npos) << c.status().message();
  std::remove(p.c_str());
}

TEST_F(ConfigTest, SearchLogTailBytes) {
  auto c = LoadConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->search_log_tail_bytes, 256ull << 20);
  auto p = Write("[search]\nlog_tail_bytes = 0\n");  // 0 = search stored events only
  c = LoadConfig(p);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->search_log_tail_bytes, 0u);
  p = Write("[search]\nlog_tail_bytes = -5\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("log_tail_bytes"), std::string::npos) << c.status().message();
  std::remove(p.c_str());
}

TEST_F(ConfigTest, LogTailCacheBytes) {
  auto c = LoadConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->log_tail_cache_bytes, 128ull << 20);
  auto p = Write("[log]\ntail_cache_bytes = 0\n");  // 0 = readers always go to disk
  c = LoadConfig(p);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_tail_cache_bytes, 0u);
  p = Write("[log]\ntail_cache_bytes = -1\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("tail_cache_bytes"), std::string::npos)
      << c.status().message();
  std::remove(p.c_str());
}

TEST_F(ConfigTest, OverridesAndErrorsNameFileAndKey) {
  auto p = Write("[server]\nlisten = \"0.0.0.0:9000\"\n[ingest]\nmax_event_bytes = 1000\n");
  auto c = LoadConfig(p);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->max_event_bytes, 1000u);

  p = Write("[ingest]\nmax_event_bytes = -5\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(p + ": [ingest] max_event_bytes must be >= 256"),
            std::string::npos)
      << c.status().message();

  p = Write("[server]\nlisten = \"nope\"\n");
  EXPECT_FALSE(LoadConfig(p).ok());
  p = Write("[server\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(p + ":1:"), std::string::npos) << c.status().message();
  p = Write("[dedupe]\ncapacity = 5\n");
  c = LoadConfig(p);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown key [dedupe] capacity"), std::string::npos);
  std::remove(p.c_str());
}

TEST(ParseListenTest, Forms) {
  std::string h;
  uint16_t port;
  ASSERT_TRUE(ParseListen("127.0.0.1:0", &h, &port).ok());
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListen("[::1]:8080", &h, &port).ok());
  EXPECT_EQ(h, "::1");
  EXPECT_EQ(port, 8080);
  EXPECT_FALSE(ParseListen("localhost", &h, &port).ok());
  EXPECT_FALSE(ParseListen("h:70000", &h, &port).ok());
  EXPECT_FALSE(ParseListen("h:8a", &h, &port).ok());
}

}  // namespace
}  // namespace sluice
