#include "ingest/decompress.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

namespace sluice {
namespace {

std::string Deflate(const std::string& in, int window_bits) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

const std::string kText = [] {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "{\"event_id\":\"" + std::to_string(i) + "\"}\n";
  return s;
}();

TEST(DecompressTest, Identity) {
  std::string out;
  ASSERT_TRUE(Decompress("", "abc", 10, &out).ok());
  EXPECT_EQ(out, "abc");
  ASSERT_TRUE(Decompress("identity", "abc", 10, &out).ok());
  EXPECT_EQ(Decompress("", "abcdef", 3, &out).code(), Status::Code::kResourceExhausted);
}

TEST(DecompressTest, GzipZlibRawDeflateZstd) {
  std::string out;
  ASSERT_TRUE(Decompress("gzip", Deflate(kText, 15 + 16), 1 << 30, &out).ok());
  EXPECT_EQ(out, kText);
  ASSERT_TRUE(Decompress("GZIP", Deflate(kText, 15 + 16), 1 << 30, &out).ok());
  EXPECT_EQ(out, kText);
  ASSERT_TRUE(Decompress("deflate", Deflate(kText, 15), 1 << 30, &out).ok());
  EXPECT_EQ(out, kText);
  ASSERT_TRUE(Decompress("deflate", Deflate(kText, -15), 1 << 30, &out).ok());
  EXPECT_EQ(out, kText);
  ASSERT_TRUE(Decompress("zstd", Zstd(kText), 1 << 30, &out).ok());
  EXPECT_EQ(out, kText);
}

TEST(DecompressTest, ConcatenatedGzipMembers) {
  std::string out;
  std::string two = Deflate("hello ", 31) + Deflate("world", 31);
  ASSERT_TRUE(Decompress("gzip", two, 100, &out).ok());
  EXPECT_EQ(out, "hello world");
}

TEST(DecompressTest, BombsStopAtTheLimit) {
  std::string zeros(50 << 20, '\0');
  std::string out;
  EXPECT_EQ(Decompress("gzip", Deflate(zeros, 31), 5 << 20, &out).code(),
            Status::Code::kResourceExhausted);
  EXPECT_LE(out.capacity(), (5u << 20) * 2 + 16);
  EXPECT_EQ(Decompress("zstd", Zstd(zeros), 5 << 20, &out).code(),
            Status::Code::kResourceExhausted);
}

TEST(DecompressTest, GarbageAndTruncation) {
  std::string out;
  EXPECT_EQ(Decompress("gzip", "not gzip at all", 100, &out).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Decompress("zstd", "not zstd at all", 100, &out).code(),
            Status::Code::kInvalidArgument);
  std::string gz = Deflate(kText, 31);
  EXPECT_FALSE(Decompress("gzip", gz.substr(0, gz.size() / 2), 1 << 30, &out).ok());
  std::string zs = Zstd(kText);
  EXPECT_FALSE(Decompress("zstd", zs.substr(0, zs.size() / 2), 1 << 30, &out).ok());
  EXPECT_EQ(Decompress("br", "x", 100, &out).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
