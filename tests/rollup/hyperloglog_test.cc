// HyperLogLog: error within 2% from tiny to large cardinalities, merge equals the union,
// and the sparse and dense encodings round-trip.
#include "rollup/hyperloglog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace sluice {
namespace {

std::string Key(int i) { return "user-" + std::to_string(i); }

TEST(HyperLogLogTest, ErrorWithinTwoPercentAcrossCardinalities) {
  for (int n : {1, 10, 100, 256, 257, 300, 1000, 5000, 20000, 100000, 1000000}) {
    HyperLogLog h;
    for (int i = 0; i < n; ++i) h.Add(Key(i));
    // Repeats change nothing.
    for (int i = 0; i < n; i += 3) h.Add(Key(i));
    const double err = std::abs(h.Estimate() - n) / n;
    EXPECT_LE(err, 0.02) << "n=" << n << " estimate=" << h.Estimate();
    if (n <= static_cast<int>(HyperLogLog::kSparseMax)) {
      EXPECT_EQ(h.Estimate(), n) << "sparse sketches count exactly";
    }
  }
}

TEST(HyperLogLogTest, MergeEqualsUnionAndIsOrderFree) {
  HyperLogLog a, b, all;
  for (int i = 0; i < 60000; ++i) {
    (i % 2 ? a : b).Add(Key(i));
    all.Add(Key(i));
  }
  for (int i = 0; i < 100; ++i) a.Add(Key(i));  // overlap
  HyperLogLog ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  EXPECT_EQ(ab.Estimate(), all.Estimate());
  EXPECT_EQ(ba.Estimate(), all.Estimate());
  EXPECT_EQ(ab.Serialize(), all.Serialize());
}

TEST(HyperLogLogTest, SerializeRoundTripsSparseAndDense) {
  for (int n : {0, 5, 2000, 50000}) {
    HyperLogLog h;
    for (int i = 0; i < n; ++i) h.Add(Key(i));
    const std::string bytes = h.Serialize();
    if (n == 5) {
      EXPECT_EQ(bytes.size(), 41u) << "small sketches stay sparse";
    }
    if (n == 50000) {
      EXPECT_LT(bytes.size(), size_t{HyperLogLog::kRegisters}) << "dense is compressed";
    }
    auto back = HyperLogLog::Deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->Estimate(), h.Estimate()) << n;
    EXPECT_EQ(back->Serialize(), bytes);
  }
  EXPECT_FALSE(HyperLogLog::Deserialize(std::string("\x01\x01\x02", 3)).ok());
  EXPECT_FALSE(HyperLogLog::Deserialize(std::string("\x07")).ok());
  EXPECT_FALSE(HyperLogLog::Deserialize(std::string("\x02garbage")).ok());
}

TEST(HyperLogLogTest, SparseMergesIntoDense) {
  HyperLogLog dense, sparse, all;
  for (int i = 0; i < 40000; ++i) dense.Add(Key(i));
  for (int i = 40000; i < 40050; ++i) sparse.Add(Key(i));
  for (int i = 0; i < 40050; ++i) all.Add(Key(i));
  dense.Merge(sparse);
  EXPECT_EQ(dense.Estimate(), all.Estimate());
  sparse.Merge(dense);
  EXPECT_EQ(sparse.Estimate(), all.Estimate());
}

}  // namespace
}  // namespace sluice
