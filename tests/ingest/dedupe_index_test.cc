#include "ingest/dedupe_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>

namespace sluice {
namespace {

Fingerprint Fp(uint64_t i) { return FingerprintOf("t", "id-" + std::to_string(i)); }

std::string TempPath(const char* name) {
  return std::string("/tmp/sluice-dedupe-") + std::to_string(::getpid()) + "-" + name;
}

TEST(DedupeIndexTest, InsertContainsDuplicate) {
  DedupeIndex idx(1024);
  EXPECT_TRUE(idx.Insert(Fp(1)));
  EXPECT_FALSE(idx.Insert(Fp(1)));
  EXPECT_TRUE(idx.Contains(Fp(1)));
  EXPECT_FALSE(idx.Contains(Fp(2)));
  EXPECT_EQ(idx.size(), 1u);
  // Tenants are separate key spaces.
  EXPECT_TRUE(idx.Insert(FingerprintOf("other", "id-1")));
}

TEST(DedupeIndexTest, ManyDistinctIdsNoFalsePositives) {
  DedupeIndex idx(1 << 21);  // window ~1.47M
  const uint64_t n = 1000000;
  ASSERT_GE(idx.guaranteed_window(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(idx.Insert(Fp(i))) << i;
  for (uint64_t i = 0; i < n; ++i) ASSERT_FALSE(idx.Insert(Fp(i))) << i;
  for (uint64_t i = n; i < n + 100000; ++i) ASSERT_FALSE(idx.Contains(Fp(i)));
  EXPECT_EQ(idx.size(), n);
  EXPECT_EQ(idx.evicted(), 0u);
}

TEST(DedupeIndexTest, WindowKeepsMostRecentIdsAndBoundsMemory) {
  DedupeIndex idx(1 << 14);
  const uint64_t window = idx.guaranteed_window();
  const uint64_t fill_limit = idx.capacity() * 4 / 5;
  EXPECT_EQ(window, fill_limit / 8 * 7);
  const uint64_t total = idx.capacity() * 10;
  for (uint64_t i = 0; i < total; ++i) {
    ASSERT_TRUE(idx.Insert(Fp(i))) << i;
    ASSERT_LE(idx.size(), fill_limit);
    if (i % 4099 == 0 && i >= window) {
      // Every id of the guaranteed window is still known.
      for (uint64_t k = i + 1 - window; k <= i; k += 97) ASSERT_TRUE(idx.Contains(Fp(k))) << k;
    }
  }
  for (uint64_t k = total - window; k < total; ++k) ASSERT_TRUE(idx.Contains(Fp(k))) << k;
  EXPECT_GT(idx.evicted(), total - fill_limit - 1);
  EXPECT_EQ(idx.evicted() + idx.size(), total);
  EXPECT_FALSE(idx.Contains(Fp(0)));  // long forgotten
  // Bytes per remembered id at a full window stay under 24.
  EXPECT_LT(static_cast<double>(idx.memory_bytes()) / static_cast<double>(window), 24.0);
}

// Fingerprints crafted to share a home bucket near the end of the table, so the
// cluster wraps around to index 0 (home = hi * 1024 / 2^64); erasing from the middle must keep the
// rest findable.
TEST(DedupeIndexTest, EraseInWrappingCluster) {
  DedupeIndex idx(1024);
  std::vector<Fingerprint> fps;
  for (uint64_t k = 0; k < 12; ++k) fps.push_back(Fingerprint{(k + 1) << 3, 1020ull << 54});
  for (uint64_t k = 0; k < 4; ++k)
    fps.push_back(Fingerprint{(k + 100) << 3, 1ull << 54});  // home 1
  for (auto& f : fps) ASSERT_TRUE(idx.Insert(f));
  for (size_t victim = 0; victim < fps.size(); ++victim) {
    DedupeIndex copy(1024);
    for (auto& f : fps) copy.Insert(f);
    copy.Erase(fps[victim]);
    EXPECT_EQ(copy.size(), fps.size() - 1);
    for (size_t k = 0; k < fps.size(); ++k) {
      EXPECT_EQ(copy.Contains(fps[k]), k != victim) << "victim " << victim << " k " << k;
    }
    EXPECT_TRUE(copy.Insert(fps[victim]));  // and can come back
  }
}

TEST(DedupeIndexTest, RandomizedAgainstReferenceSet) {
  DedupeIndex idx(4096);  // small: eviction never triggers below 409 per generation
  std::set<std::pair<uint64_t, uint64_t>> ref;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200000; ++step) {
    Fingerprint f{(rng() % 3000) << 3, rng() % 64};  // dense collisions
    if (rng() % 3 == 0) {
      idx.Erase(f);
      ref.erase({f.lo, f.hi});
    } else if (ref.size() < 2000) {
      EXPECT_EQ(idx.Insert(f), ref.insert({f.lo, f.hi}).second);
    }
    ASSERT_EQ(idx.size(), ref.size());
  }
  for (auto& [lo, hi] : ref) EXPECT_TRUE(idx.Contains(Fingerprint{lo, hi}));
}

TEST(DedupeIndexTest, AnyCapacityNotOnlyPowersOfTwo) {
  DedupeIndex idx(3000);
  EXPECT_EQ(idx.capacity(), 3000u);
  for (uint64_t i = 0; i < 20000; ++i) ASSERT_TRUE(idx.Insert(Fp(i)));
  for (uint64_t k = 20000 - idx.guaranteed_window(); k < 20000; ++k) {
    ASSERT_TRUE(idx.Contains(Fp(k))) << k;
  }
}

TEST(DedupeIndexTest, AllZeroFingerprint) {
  DedupeIndex idx(1024);
  EXPECT_TRUE(idx.Insert(Fingerprint{0, 0}));
  EXPECT_FALSE(idx.Insert(Fingerprint{0, 0}));
  EXPECT_TRUE(idx.Contains(Fingerprint{0, 0}));
  idx.Erase(Fingerprint{0, 0});
  EXPECT_FALSE(idx.Contains(Fingerprint{0, 0}));
}

TEST(DedupeIndexTest, SnapshotRoundTripAndDamage) {
  const std::string path = TempPath("snap");
  DedupeIndex idx(1 << 12);
  for (uint64_t i = 0; i < 20000; ++i) idx.Insert(Fp(i));  // with evictions
  ASSERT_TRUE(idx.SaveSnapshot(path, 12345).ok());
  const uint64_t saved_size = idx.size();
  DedupeIndex loaded(1 << 12);
  auto off = loaded.LoadSnapshot(path);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(*off, 12345u);
  EXPECT_EQ(loaded.size(), idx.size());
  EXPECT_EQ(loaded.evicted(), idx.evicted());
  for (uint64_t i = 0; i < 20000; ++i) ASSERT_EQ(loaded.Contains(Fp(i)), idx.Contains(Fp(i)));
  // Inserting continues identically (same generation state).
  for (uint64_t i = 20000; i < 25000; ++i) ASSERT_EQ(loaded.Insert(Fp(i)), idx.Insert(Fp(i)));
  EXPECT_EQ(loaded.size(), idx.size());

  // Into a larger index (capacity changed in the config).
  DedupeIndex bigger(1 << 14);
  ASSERT_TRUE(bigger.LoadSnapshot(path).ok());
  EXPECT_EQ(bigger.size(), saved_size);
  // Every id the saved index knew (idx only forgot some since) survives the re-insert.
  for (uint64_t i = 0; i < 20000; ++i) {
    if (idx.Contains(Fp(i))) {
      ASSERT_TRUE(bigger.Contains(Fp(i))) << i;
    }
  }

  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  std::ofstream(path, std::ios::binary) << flipped;
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  std::remove(path.c_str());
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kNotFound);
}

TEST(DedupeIndexTest, CloneIsIndependentCopy) {
  DedupeIndex idx(1 << 12);
  for (uint64_t i = 0; i < 1000; ++i) idx.Insert(Fp(i));
  auto copy = idx.Clone();
  EXPECT_EQ(copy->size(), idx.size());
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_TRUE(copy->Contains(Fp(i)));
  idx.Insert(Fp(5000));
  EXPECT_FALSE(copy->Contains(Fp(5000)));
}

}  // namespace
}  // namespace sluice
