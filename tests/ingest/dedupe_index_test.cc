#include "ingest/dedupe_index.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "common/crc32c.h"

namespace sluice {
namespace {

Fingerprint Fp(uint64_t i) { return FingerprintOf("t", "id-" + std::to_string(i)); }

std::string TempPath(const char* name) {
  return std::string("/tmp/sluice-dedupe-") + std::to_string(::getpid()) + "-" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A fingerprint whose home bucket in a table of `capacity` slots is `bucket`
// (home = hi * capacity / 2^64), with `tag` in the compared bits of lo.
Fingerprint InBucket(uint64_t bucket, uint64_t capacity, uint64_t tag) {
  const unsigned __int128 hi = ((static_cast<unsigned __int128>(bucket) << 64) + capacity - 1) /
                               capacity;  // smallest hi whose home is `bucket`
  return Fingerprint{tag << 3, static_cast<uint64_t>(hi)};
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
  EXPECT_EQ(idx.size(), 2u);
}

TEST(DedupeIndexTest, SizesFollowTheConfiguration) {
  DedupeIndex idx(1ull << 20);
  EXPECT_EQ(idx.capacity(), 1ull << 20);
  EXPECT_EQ(idx.memory_bytes(), 16ull << 20);
  // 80% fill, 8 generations, the newest of which may be empty.
  EXPECT_EQ(idx.guaranteed_window(), (1ull << 20) * 4 / 5 / 8 * 7);
  EXPECT_EQ(DedupeIndex(10).capacity(), 1024u);  // the minimum
}

TEST(DedupeIndexTest, ManyDistinctIdsNoFalsePositives) {
  DedupeIndex idx(1 << 21);  // window ~1.47M
  const uint64_t n = 1000000;
  ASSERT_GE(idx.guaranteed_window(), n);
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(idx.Insert(Fp(i))) << i;
  for (uint64_t i = 0; i < n; ++i) ASSERT_FALSE(idx.Insert(Fp(i))) << i;
  for (uint64_t i = n; i < 2 * n; ++i) ASSERT_FALSE(idx.Contains(Fp(i))) << i;
  EXPECT_EQ(idx.size(), n);
  EXPECT_EQ(idx.evicted(), 0u);
}

TEST(DedupeIndexTest, WindowKeepsMostRecentIdsAndBoundsMemory) {
  DedupeIndex idx(1 << 14);
  const uint64_t window = idx.guaranteed_window();
  const uint64_t fill_limit = idx.capacity() * 4 / 5;
  const uint64_t total = idx.capacity() * 10;
  for (uint64_t i = 0; i < total; ++i) {
    ASSERT_TRUE(idx.Insert(Fp(i))) << i;
    ASSERT_LE(idx.size(), fill_limit);
    ASSERT_EQ(idx.evicted() + idx.size(), i + 1);
    if (i % 4099 == 0 && i >= window) {
      // Every id of the guaranteed window is still known.
      for (uint64_t k = i + 1 - window; k <= i; k += 97) ASSERT_TRUE(idx.Contains(Fp(k))) << k;
    }
  }
  for (uint64_t k = total - window; k < total; ++k) ASSERT_TRUE(idx.Contains(Fp(k))) << k;
  EXPECT_GE(idx.evicted(), total - fill_limit);
  EXPECT_FALSE(idx.Contains(Fp(0)));  // long forgotten
  // An evicted id is new again.
  EXPECT_TRUE(idx.Insert(Fp(0)));
  // Bytes per remembered id at a full window stay under 24.
  EXPECT_LT(static_cast<double>(idx.memory_bytes()) / static_cast<double>(window), 24.0);
}

// Fingerprints crafted to share a home bucket near the end of the table, so the
// cluster wraps around to index 0; erasing from the middle must keep the rest findable.
TEST(DedupeIndexTest, EraseInWrappingCluster) {
  std::vector<Fingerprint> fps;
  for (uint64_t k = 0; k < 12; ++k) fps.push_back(InBucket(1020, 1024, k + 1));   // 1020..7
  for (uint64_t k = 0; k < 4; ++k) fps.push_back(InBucket(1, 1024, k + 100));     // 8..11
  for (uint64_t k = 0; k < 3; ++k) fps.push_back(InBucket(1023, 1024, k + 200));  // 12..14
  for (size_t victim = 0; victim < fps.size(); ++victim) {
    DedupeIndex idx(1024);
    for (auto& f : fps) ASSERT_TRUE(idx.Insert(f));
    idx.Erase(fps[victim]);
    idx.Erase(fps[victim]);  // erasing an absent id is a no-op
    EXPECT_EQ(idx.size(), fps.size() - 1);
    for (size_t k = 0; k < fps.size(); ++k) {
      EXPECT_EQ(idx.Contains(fps[k]), k != victim) << "victim " << victim << " k " << k;
    }
    EXPECT_TRUE(idx.Insert(fps[victim]));  // and can come back
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

// The generation policy spelled out naively: which ids are remembered after any mix of
// inserts, duplicate inserts and erases, with eviction running many times.
class ModelIndex {
 public:
  explicit ModelIndex(uint64_t per_gen) : per_gen_(per_gen) {}
  bool Insert(const Fingerprint& f) {
    if (gen_.count(Key(f)) != 0) return false;
    gen_[Key(f)] = current_;
    if (++count_[current_] >= per_gen_) {
      current_ = (current_ + 1) % 8;
      for (auto it = gen_.begin(); it != gen_.end();) {
        if (it->second == current_) {
          it = gen_.erase(it);
          ++evicted_;
        } else {
          ++it;
        }
      }
      count_[current_] = 0;
    }
    return true;
  }
  void Erase(const Fingerprint& f) {
    auto it = gen_.find(Key(f));
    if (it == gen_.end()) return;
    --count_[it->second];
    gen_.erase(it);
  }
  bool Contains(const Fingerprint& f) const { return gen_.count(Key(f)) != 0; }
  uint64_t size() const { return gen_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  static std::pair<uint64_t, uint64_t> Key(const Fingerprint& f) { return {f.lo, f.hi}; }
  uint64_t per_gen_;
  int current_ = 0;
  uint64_t count_[8] = {};
  uint64_t evicted_ = 0;
  std::map<std::pair<uint64_t, uint64_t>, int> gen_;
};

// Half the ids crowd a few buckets around the end of the table, so eviction and erase
// work on long clusters that wrap past index 0.
TEST(DedupeIndexTest, EvictionAndEraseMatchModelOnWrappingClusters) {
  for (uint64_t capacity : {1024ull, 1500ull}) {
    DedupeIndex idx(capacity);
    ModelIndex model(idx.guaranteed_window() / 7);
    std::mt19937_64 rng(capacity);
    std::vector<Fingerprint> seen;
    for (int step = 0; step < 60000; ++step) {
      const uint64_t op = rng() % 10;
      if (op < 7 || seen.empty()) {
        const uint64_t r = rng() % 16;
        const uint64_t bucket = r < 8 ? (capacity - 1 - r) : r < 10 ? r : rng() % capacity;
        Fingerprint f = InBucket(bucket, capacity, seen.size() + 1);
        f.hi += rng() % 1024;  // same home, distinct high bits
        seen.push_back(f);
        ASSERT_EQ(idx.Insert(f), model.Insert(f)) << step;
      } else {
        // Recent ids: some present (duplicate or erase), some already evicted.
        const size_t back = rng() % std::min<size_t>(seen.size(), 2000);
        const Fingerprint& f = seen[seen.size() - 1 - back];
        if (op < 9) {
          ASSERT_EQ(idx.Insert(f), model.Insert(f)) << step;
        } else {
          idx.Erase(f);
          model.Erase(f);
        }
      }
      ASSERT_EQ(idx.size(), model.size()) << step;
      ASSERT_EQ(idx.evicted(), model.evicted()) << step;
      ASSERT_LE(idx.size(), capacity * 4 / 5);
      if (step % 5000 == 4999) {
        for (size_t k = seen.size() > 3000 ? seen.size() - 3000 : 0; k < seen.size(); ++k) {
          ASSERT_EQ(idx.Contains(seen[k]), model.Contains(seen[k])) << step << " id " << k;
        }
      }
    }
    EXPECT_GT(model.evicted(), 10 * capacity);  // eviction ran many times
  }
}

TEST(DedupeIndexTest, AnyCapacityNotOnlyPowersOfTwo) {
  DedupeIndex idx(3000);
  EXPECT_EQ(idx.capacity(), 3000u);
  for (uint64_t i = 0; i < 20000; ++i) ASSERT_TRUE(idx.Insert(Fp(i)));
  for (uint64_t k = 20000 - idx.guaranteed_window(); k < 20000; ++k) {
    ASSERT_TRUE(idx.Contains(Fp(k))) << k;
  }
  EXPECT_LE(idx.size(), 3000u * 4 / 5);
}

TEST(DedupeIndexTest, AllZeroFingerprint) {
  DedupeIndex idx(1024);
  EXPECT_FALSE(idx.Contains(Fingerprint{0, 0}));
  EXPECT_TRUE(idx.Insert(Fingerprint{0, 0}));
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_FALSE(idx.Insert(Fingerprint{0, 0}));
  EXPECT_TRUE(idx.Contains(Fingerprint{0, 0}));
  EXPECT_FALSE(idx.Contains(Fingerprint{8, 0}));
  idx.Erase(Fingerprint{0, 0});
  EXPECT_FALSE(idx.Contains(Fingerprint{0, 0}));
  EXPECT_EQ(idx.size(), 0u);
}

TEST(DedupeIndexTest, GenerationBitsAreNotPartOfTheKey) {
  DedupeIndex idx(1024);
  EXPECT_TRUE(idx.Insert(Fingerprint{0x1234560, 99}));
  // Differs only in the 3 bits that hold the generation: the same id to the index.
  EXPECT_FALSE(idx.Insert(Fingerprint{0x1234567, 99}));
  EXPECT_TRUE(idx.Insert(Fingerprint{0x1234568, 99}));
}

TEST(DedupeIndexTest, SnapshotRoundTripAndDamage) {
  const std::string path = TempPath("snap");
  DedupeIndex idx(1 << 12);
  // With evictions; 21000 / 409 per generation leaves the current generation at 3, so a
  // load that lost it would evict differently below.
  const uint64_t n = 21000;
  for (uint64_t i = 0; i < n; ++i) idx.Insert(Fp(i));
  ASSERT_GT(idx.evicted(), 0u);
  ASSERT_TRUE(idx.SaveSnapshot(path, 12345).ok());
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // renamed away
  const uint64_t saved_size = idx.size();
  DedupeIndex loaded(1 << 12);
  loaded.Insert(Fp(999999));  // loading replaces what was there
  auto off = loaded.LoadSnapshot(path);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(*off, 12345u);
  EXPECT_EQ(loaded.size(), idx.size());
  EXPECT_EQ(loaded.evicted(), idx.evicted());
  EXPECT_FALSE(loaded.Contains(Fp(999999)));
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(loaded.Contains(Fp(i)), idx.Contains(Fp(i)));
  // Inserting continues identically (same generation state).
  for (uint64_t i = n; i < n + 5000; ++i) ASSERT_EQ(loaded.Insert(Fp(i)), idx.Insert(Fp(i)));
  for (uint64_t i = 0; i < n + 5000; ++i) ASSERT_EQ(loaded.Contains(Fp(i)), idx.Contains(Fp(i)));
  EXPECT_EQ(loaded.size(), idx.size());
  EXPECT_EQ(loaded.evicted(), idx.evicted());

  // Into a larger index (capacity changed in the config).
  DedupeIndex bigger(1 << 14);
  ASSERT_TRUE(bigger.LoadSnapshot(path).ok());
  EXPECT_EQ(bigger.size(), saved_size);
  // Every id the saved index knew (idx only forgot some since) survives the re-insert.
  for (uint64_t i = 0; i < n; ++i) {
    if (idx.Contains(Fp(i))) {
      ASSERT_TRUE(bigger.Contains(Fp(i))) << i;
    }
  }

  const std::string bytes = ReadFile(path);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;
  WriteFile(path, flipped);
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  flipped = bytes;
  flipped[30] ^= 0x01;  // in the header
  WriteFile(path, flipped);
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  WriteFile(path, bytes.substr(0, bytes.size() - 10));
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  WriteFile(path, bytes.substr(0, 20));
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  WriteFile(path, bytes + "x");
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  WriteFile(path, "");
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  // A failed load leaves the index as it was.
  EXPECT_TRUE(loaded.Contains(Fp(n + 4999)));
  std::remove(path.c_str());
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kNotFound);
}

// A checksum only catches damage after writing; counts that disagree with the table
// must be refused too, or the loaded index could overfill and loop on lookups.
TEST(DedupeIndexTest, SnapshotWithInconsistentCountsIsRefused) {
  const std::string path = TempPath("counts");
  DedupeIndex idx(1024);
  for (uint64_t i = 0; i < 500; ++i) idx.Insert(Fp(i));
  ASSERT_TRUE(idx.SaveSnapshot(path, 7).ok());
  const std::string bytes = ReadFile(path);
  auto reseal = [](std::string b) {
    const uint32_t crc = crc32c::Mask(crc32c::Value(b.data(), b.size() - 4));
    std::memcpy(&b[b.size() - 4], &crc, 4);
    return b;
  };
  // Resealing untouched bytes must load, or the checks below would pass for the wrong
  // reason.
  WriteFile(path, reseal(bytes));
  ASSERT_TRUE(DedupeIndex(1024).LoadSnapshot(path).ok());
  // Header layout: magic[8] version u32, current u32, capacity, size, evicted, log_offset,
  // gen_count[8] (u64 each).
  std::string bad = bytes;
  bad[24] ^= 0x01;  // size
  WriteFile(path, reseal(bad));
  EXPECT_EQ(DedupeIndex(1024).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  bad = bytes;
  bad[48] ^= 0x01;  // gen_count[0]
  WriteFile(path, reseal(bad));
  EXPECT_EQ(DedupeIndex(1024).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  std::remove(path.c_str());
}

// Version 2 files: a bitmap and the occupied slots. Damage the checksum cannot see (the
// file rewritten and resealed) must still be refused, and a refused load must leave the
// index it was loaded into as it was. A generation fuller than any Insert allows would
// let the table fill up and make lookups loop.
TEST(DedupeIndexTest, ResealedVersionTwoDamageIsRefused) {
  const std::string path = TempPath("v2damage");
  const uint64_t slots = 1030;  // not a multiple of 64: the last bitmap word has a tail
  DedupeIndex idx(slots);
  for (uint64_t i = 0; i < 500; ++i) idx.Insert(Fp(i));
  ASSERT_TRUE(idx.SaveSnapshot(path, 9).ok());
  const std::string bytes = ReadFile(path);
  const size_t words = (slots + 63) / 64, bitmap = 112, packed = bitmap + words * 8;
  ASSERT_EQ(bytes.size(), packed + idx.size() * 16 + 4);
  auto reseal = [](std::string b) {
    const uint32_t crc = crc32c::Mask(crc32c::Value(b.data(), b.size() - 4));
    std::memcpy(&b[b.size() - 4], &crc, 4);
    return b;
  };
  auto word = [&](const std::string& b, size_t w) {
    uint64_t v;
    std::memcpy(&v, &b[bitmap + 8 * w], 8);
    return v;
  };
  auto set_word = [&](std::string* b, size_t w, uint64_t v) {
    std::memcpy(&(*b)[bitmap + 8 * w], &v, 8);
  };
  DedupeIndex target(slots);
  for (uint64_t i = 1000; i < 1100; ++i) target.Insert(Fp(i));
  auto refused = [&](const std::string& b) {
    WriteFile(path, reseal(b));
    return target.LoadSnapshot(path).status().code() == Status::Code::kCorruption;
  };
  WriteFile(path, reseal(bytes));
  ASSERT_TRUE(DedupeIndex(slots).LoadSnapshot(path).ok());  // resealing alone is harmless

  // One more occupied bit than ids.
  std::string bad = bytes;
  size_t w0 = 0;
  while (word(bytes, w0) == ~uint64_t{0}) ++w0;
  set_word(&bad, w0, word(bytes, w0) | (word(bytes, w0) + 1));  // lowest clear bit set
  EXPECT_TRUE(refused(bad));
  // A bit moved past the end of the table (same count).
  bad = bytes;
  const uint64_t last = word(bytes, words - 1);
  ASSERT_NE(last, 0u);
  set_word(&bad, words - 1, (last & (last - 1)) | (uint64_t{1} << 63));
  EXPECT_TRUE(refused(bad));
  // A slot whose key is zero (its generation bits kept, so the counts still agree).
  bad = bytes;
  std::memset(&bad[packed], 0, 16);
  bad[packed] = bytes[packed] & 7;
  EXPECT_TRUE(refused(bad));
  // Every id moved into generation 7, with counts that agree: more than one generation's
  // share of the fill limit in one generation.
  bad = bytes;
  for (size_t k = 0; k < idx.size(); ++k) bad[packed + 16 * k] |= 7;
  const uint64_t zero = 0, all = idx.size();
  for (int g = 0; g < 8; ++g) std::memcpy(&bad[48 + 8 * g], g == 7 ? &all : &zero, 8);
  EXPECT_TRUE(refused(bad));

  // None of the refused loads touched the index.
  EXPECT_EQ(target.size(), 100u);
  for (uint64_t i = 1000; i < 1100; ++i) EXPECT_TRUE(target.Contains(Fp(i)));
  EXPECT_FALSE(target.Contains(Fp(0)));
  std::remove(path.c_str());
}

// The newest ids survive a load into a smaller table: generations are re-inserted oldest
// first, so eviction in the new table drops the oldest.
TEST(DedupeIndexTest, SnapshotIntoSmallerCapacityKeepsNewest) {
  const std::string path = TempPath("shrink");
  DedupeIndex big(1 << 12);  // 409 ids per generation
  const uint64_t n = 918;    // two full generations and part of a third
  for (uint64_t i = 0; i < n; ++i) big.Insert(Fp(i));
  ASSERT_TRUE(big.SaveSnapshot(path, 1).ok());
  DedupeIndex small(1024);  // window 714
  ASSERT_TRUE(small.LoadSnapshot(path).ok());
  EXPECT_LE(small.size(), 1024u * 4 / 5);
  EXPECT_EQ(small.size() + small.evicted(), n);
  EXPECT_GT(small.evicted(), 0u);
  for (uint64_t i = 409; i < n; ++i) EXPECT_TRUE(small.Contains(Fp(i))) << i;
  for (uint64_t i = n; i < n + 1000; ++i) EXPECT_FALSE(small.Contains(Fp(i))) << i;
  std::remove(path.c_str());
}

TEST(DedupeIndexTest, SnapshotPathsWithoutDirectoryOrIntoMissingDirectory) {
  DedupeIndex idx(1024);
  idx.Insert(Fp(1));
  char cwd[PATH_MAX];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir("/tmp"), 0);
  const std::string name = "sluice-dedupe-" + std::to_string(::getpid()) + "-relative";
  const Status saved = idx.SaveSnapshot(name, 3);  // the directory to fsync is "."
  auto loaded = DedupeIndex(1024).LoadSnapshot(name);
  std::remove(name.c_str());
  ASSERT_EQ(::chdir(cwd), 0);
  EXPECT_TRUE(saved.ok()) << saved.ToString();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, 3u);

  const Status st = idx.SaveSnapshot(TempPath("no-such-dir") + "/snap", 3);
  EXPECT_EQ(st.code(), Status::Code::kIOError);
}

// Ingestor::Snapshot exports into vectors it sized (and touched) before taking its lock,
// usually larger than needed; the image must come out the same as from empty vectors.
TEST(DedupeIndexTest, ExportIntoPresizedImageMatchesAndLoadsEqual) {
  DedupeIndex idx(1 << 12);
  // With evictions, and 9000 / 409 per generation leaves the current generation at 6, so
  // a load that restarted at generation 0 would evict different ids below.
  for (uint64_t i = 0; i < 9000; ++i) idx.Insert(Fp(i));
  DedupeIndex::Image fresh, presized;
  presized.occupied.assign(1000, ~uint64_t{0});
  presized.slots.assign(100000, 7);
  idx.Export(&fresh);
  idx.Export(&presized);
  EXPECT_EQ(fresh.size, idx.size());
  EXPECT_EQ(fresh.slots.size(), 2 * idx.size());
  EXPECT_EQ(fresh.occupied.size(), (idx.capacity() + 63) / 64);
  EXPECT_EQ(presized.occupied, fresh.occupied);
  EXPECT_EQ(presized.slots, fresh.slots);
  EXPECT_EQ(presized.current_gen, fresh.current_gen);

  const std::string path = TempPath("export");
  ASSERT_TRUE(DedupeIndex::WriteSnapshot(presized, path, 77).ok());
  // 16 bytes per id plus a bit per slot, not 16 bytes per slot.
  EXPECT_EQ(ReadFile(path).size(), 112 + (idx.capacity() / 64) * 8 + idx.size() * 16 + 4);
  DedupeIndex copy(idx.capacity());
  auto off = copy.LoadSnapshot(path);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(*off, 77u);
  EXPECT_EQ(copy.size(), idx.size());
  EXPECT_EQ(copy.evicted(), idx.evicted());
  for (uint64_t i = 0; i < 9000; ++i) ASSERT_EQ(copy.Contains(Fp(i)), idx.Contains(Fp(i)));
  // Same generation state: both evict the same ids from here on.
  for (uint64_t i = 9000; i < 15000; ++i) ASSERT_EQ(copy.Insert(Fp(i)), idx.Insert(Fp(i)));
  for (uint64_t i = 0; i < 15000; ++i) ASSERT_EQ(copy.Contains(Fp(i)), idx.Contains(Fp(i)));
  EXPECT_EQ(copy.evicted(), idx.evicted());
  // An image whose parts disagree is refused rather than written.
  presized.slots.pop_back();
  EXPECT_EQ(DedupeIndex::WriteSnapshot(presized, path, 1).code(), Status::Code::kInvalidArgument);
  std::remove(path.c_str());
}

// Data directories written before the bitmap format hold version 1: the header, then the
// whole table. They must still load (else an upgrade replays the whole log).
TEST(DedupeIndexTest, LoadsVersionOneSnapshots) {
  DedupeIndex idx(1 << 12);
  for (uint64_t i = 0; i < 9000; ++i) idx.Insert(Fp(i));
  DedupeIndex::Image img;
  idx.Export(&img);
  // Rebuild the dense table from the image: slot i of the table is the k-th set bit.
  std::vector<uint64_t> table(2 * img.capacity, 0);
  size_t k = 0;
  for (uint64_t i = 0; i < img.capacity; ++i) {
    if ((img.occupied[i / 64] >> (i % 64)) & 1) {
      table[2 * i] = img.slots[k++];
      table[2 * i + 1] = img.slots[k++];
    }
  }
  ASSERT_EQ(k, img.slots.size());
  const std::string path = TempPath("v1");
  ASSERT_TRUE(idx.SaveSnapshot(path, 5).ok());
  std::string v2 = ReadFile(path);
  std::string v1 = v2.substr(0, 112);
  const uint32_t one = 1;
  std::memcpy(&v1[8], &one, 4);  // version
  v1.append(reinterpret_cast<const char*>(table.data()), table.size() * 8);
  const uint32_t crc = crc32c::Mask(crc32c::Value(v1.data(), v1.size()));
  v1.append(reinterpret_cast<const char*>(&crc), 4);
  WriteFile(path, v1);
  DedupeIndex loaded(1 << 12);
  auto off = loaded.LoadSnapshot(path);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(*off, 5u);
  EXPECT_EQ(loaded.size(), idx.size());
  // Into another capacity: the ids are re-inserted from the version-1 table.
  DedupeIndex bigger(1 << 14);
  ASSERT_TRUE(bigger.LoadSnapshot(path).ok());
  EXPECT_EQ(bigger.size(), idx.size());
  for (uint64_t i = 0; i < 9000; ++i) ASSERT_EQ(bigger.Contains(Fp(i)), idx.Contains(Fp(i))) << i;
  for (uint64_t i = 0; i < 15000; ++i) ASSERT_EQ(loaded.Insert(Fp(i)), idx.Insert(Fp(i))) << i;
  EXPECT_EQ(loaded.evicted(), idx.evicted());
  // A version-1 file whose size field disagrees with its table is refused.
  std::string bad = v1.substr(0, v1.size() - 4);
  bad[24] ^= 0x01;
  const uint32_t crc2 = crc32c::Mask(crc32c::Value(bad.data(), bad.size()));
  bad.append(reinterpret_cast<const char*>(&crc2), 4);
  WriteFile(path, bad);
  EXPECT_EQ(DedupeIndex(1 << 12).LoadSnapshot(path).status().code(), Status::Code::kCorruption);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sluice
