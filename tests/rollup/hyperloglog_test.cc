// HyperLogLog: error within 2% from tiny to large cardinalities, merge equals the union
// whatever the path the keys took (direct, sparse then dense, merged in any order, through
// Serialize), every encoding round-trips (and the blobs earlier versions wrote still read),
// and malformed bytes are rejected as corruption.
#include "rollup/hyperloglog.h"

#include <gtest/gtest.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace sluice {
namespace {

std::string Key(int i) { return "user-" + std::to_string(i); }
uint64_t HashOf(int i) {
  const std::string k = Key(i);
  return XXH3_64bits(k.data(), k.size());
}

// The registers a 64-bit hash sets, computed straight from the definition: index = top 14
// bits, value = position of the first 1 in the other 50 (51 if none).
std::string OracleRegisters(const std::vector<uint64_t>& hashes) {
  std::string regs(HyperLogLog::kRegisters, '\0');
  for (uint64_t h : hashes) {
    const uint32_t index = static_cast<uint32_t>(h >> 50);
    uint8_t rank = 1;
    for (int bit = 49; bit >= 0 && !((h >> bit) & 1); --bit) ++rank;
    regs[index] = static_cast<char>(std::max<uint8_t>(regs[index], rank));
  }
  return regs;
}

std::string RawBlob(const std::string& regs) { return std::string("\x03", 1) + regs; }

std::string OldSparseBlob(const std::vector<uint64_t>& hashes) {
  std::string out(1, '\x01');
  for (uint64_t h : hashes) {
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(h >> (8 * b)));
  }
  return out;
}

std::string OldDenseBlob(const std::string& regs) {
  std::string out(1 + ZSTD_compressBound(regs.size()), '\0');
  out[0] = '\x02';
  const size_t n = ZSTD_compress(out.data() + 1, out.size() - 1, regs.data(), regs.size(), 1);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(1 + n);
  return out;
}

HyperLogLog FromHashes(const std::vector<uint64_t>& hashes) {
  HyperLogLog h;
  for (uint64_t x : hashes) h.AddHash(x);
  return h;
}

HyperLogLog Decode(const std::string& bytes) {
  auto h = HyperLogLog::Deserialize(bytes);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? std::move(*h) : HyperLogLog();
}

std::vector<uint64_t> KeyHashes(int n) {
  std::vector<uint64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(HashOf(i));
  return v;
}

std::vector<uint64_t> RandomHashes(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = rng();
  return v;
}

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

TEST(HyperLogLogTest, SeededErrorWithinTwoPercent) {
  // 0.81% standard error: every seeded run within 2%, and the RMS near the theory.
  for (int n : {50, 256, 300, 1000, 3000, 10000, 100000, 1000000}) {
    double sq = 0;
    const int seeds = n >= 1000000 ? 3 : 8;
    for (int seed = 1; seed <= seeds; ++seed) {
      const HyperLogLog h = FromHashes(RandomHashes(n, 1000 * n + seed));
      const double err = (h.Estimate() - n) / n;
      EXPECT_LE(std::abs(err), 0.02) << "n=" << n << " seed=" << seed;
      sq += err * err;
    }
    EXPECT_LE(std::sqrt(sq / seeds), 0.0125) << "n=" << n;
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
  EXPECT_EQ(ba.Serialize(), all.Serialize());
}

TEST(HyperLogLogTest, MergeWithItselfChangesNothing) {
  for (int n : {10, 5000}) {
    HyperLogLog h = FromHashes(KeyHashes(n));
    const std::string before = h.Serialize();
    h.Merge(h);
    EXPECT_EQ(h.Serialize(), before) << n;
  }
}

// Dense registers are the oracle's whatever the path: added one by one, sparse sketches
// merged in any order and grouping, dense merged with sparse, through Serialize between
// steps. Sparse sketches agree with each other byte for byte too.
TEST(HyperLogLogTest, PathIndependent) {
  for (int n : {0, 1, 100, 256, 257, 300, 1000, 3000, 20000}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<uint64_t> hashes = KeyHashes(n);
    const HyperLogLog direct = FromHashes(hashes);
    const std::string want = direct.Serialize();
    if (n > static_cast<int>(HyperLogLog::kSparseMax)) {
      EXPECT_EQ(want, Decode(RawBlob(OracleRegisters(hashes))).Serialize());
    }
    // Parts of about 40 keys (each sparse), merged forwards, backwards, pairwise, and
    // through their serialized bytes.
    std::vector<HyperLogLog> parts;
    for (int i = 0; i < n; i += 40) {
      parts.push_back(FromHashes({hashes.begin() + i, hashes.begin() + std::min(n, i + 40)}));
    }
    HyperLogLog fwd, bwd, tree, bytes;
    for (const auto& p : parts) fwd.Merge(p);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) bwd.Merge(*it);
    std::vector<HyperLogLog> level = parts;
    while (level.size() > 1) {
      std::vector<HyperLogLog> next;
      for (size_t i = 0; i < level.size(); i += 2) {
        next.push_back(level[i]);
        if (i + 1 < level.size()) next.back().Merge(level[i + 1]);
      }
      level = next;
    }
    if (!level.empty()) tree = level[0];
    for (const auto& p : parts) {
      HyperLogLog part = Decode(p.Serialize());
      part.Merge(bytes);
      bytes = Decode(part.Serialize());
    }
    // Shuffled insertion order with repeats, and the second half added to a sketch that
    // already went through bytes.
    std::vector<uint64_t> shuffled = hashes;
    shuffled.insert(shuffled.end(), hashes.begin(), hashes.begin() + n / 2);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(n));
    HyperLogLog half = Decode(FromHashes({shuffled.begin(), shuffled.begin() + n / 2}).Serialize());
    for (size_t i = n / 2; i < shuffled.size(); ++i) half.AddHash(shuffled[i]);

    for (const HyperLogLog* h : {&fwd, &bwd, &tree, &bytes, &half}) {
      EXPECT_EQ(h->Serialize(), want);
      EXPECT_EQ(h->Estimate(), direct.Estimate());
    }
  }
}

// Hashes whose 11 index bits below the dense index are zero keep their 39-bit rank in the
// sparse entry; it must come back through the sparse encoding (truncated unary up to 40)
// and become exactly the dense rank the hash would set directly (11 + rank, up to 51).
TEST(HyperLogLogTest, SparseRanksBecomeTheDenseRegisters) {
  std::vector<uint64_t> hashes;
  for (uint64_t reg = 0; reg < 200; ++reg) {
    const int zeros = static_cast<int>(reg % 40);  // leading zeros of the 39 bits; 39: none set
    const uint64_t rest =
        zeros == 39 ? 0
                    : (uint64_t{1} << (38 - zeros)) | (reg & ((uint64_t{1} << (38 - zeros)) - 1));
    hashes.push_back((reg * 77) << 50 | rest);  // extra index bits (49..39) zero
  }
  hashes.push_back(uint64_t{5} << 50 | uint64_t{1} << 39);  // lowest extra bit: rank 11
  hashes.push_back(uint64_t{5} << 50 | uint64_t{1} << 38);  // same register, rank 12 wins
  hashes.push_back(uint64_t{16383} << 50);                  // all zero: rank 51
  const HyperLogLog sparse = FromHashes(hashes);
  const std::string sparse_bytes = sparse.Serialize();
  ASSERT_EQ(sparse_bytes[0], '\x04');
  const HyperLogLog back = Decode(sparse_bytes);
  EXPECT_EQ(back.Serialize(), sparse_bytes);
  EXPECT_EQ(back.Estimate(), sparse.Estimate());
  EXPECT_EQ(back.Estimate(), static_cast<double>(hashes.size()));

  // Push both over the threshold with the same unrelated keys, the decoded copy too.
  const std::vector<uint64_t> more = RandomHashes(HyperLogLog::kSparseMax, 99);
  HyperLogLog a = sparse, b = back;
  for (uint64_t x : more) {
    a.AddHash(x);
    b.AddHash(x);
  }
  std::vector<uint64_t> all = hashes;
  all.insert(all.end(), more.begin(), more.end());
  const std::string oracle = Decode(RawBlob(OracleRegisters(all))).Serialize();
  EXPECT_EQ(a.Serialize(), oracle);
  EXPECT_EQ(b.Serialize(), oracle);
  // A dense sketch merging the sparse one sets the same registers as adding the hashes.
  const std::vector<uint64_t> big_hashes = RandomHashes(1000, 7);
  HyperLogLog with_sparse = FromHashes(big_hashes);
  with_sparse.Merge(back);
  std::vector<uint64_t> big_all = big_hashes;
  big_all.insert(big_all.end(), hashes.begin(), hashes.end());
  EXPECT_EQ(with_sparse.Serialize(), Decode(RawBlob(OracleRegisters(big_all))).Serialize());
}

TEST(HyperLogLogTest, SerializeRoundTripsEveryEncoding) {
  struct Case {
    int n;
    char tag;
    size_t max_bytes;  // measured sizes plus a little slack; the old ones for comparison
  };
  // Old sizes: 1 + 8n sparse, zstd dense: 0.7 KB at 300, 1.8 KB at 1K, 3.6 KB at 3K,
  // 5.5 KB at 10K, 6.8 KB at 100K.
  for (const Case& c :
       {Case{0, '\x04', 2}, Case{1, '\x04', 8}, Case{5, '\x04', 20}, Case{100, '\x04', 260},
        Case{256, '\x04', 610}, Case{257, '\x05', 330}, Case{300, '\x05', 370},
        Case{1000, '\x05', 960}, Case{3000, '\x05', 2100}, Case{10000, '\x06', 4200},
        Case{100000, '\x06', 5950}, Case{1000000, '\x06', 5950}}) {
    SCOPED_TRACE("n=" + std::to_string(c.n));
    HyperLogLog h;
    for (int i = 0; i < c.n; ++i) h.Add(Key(i));
    const std::string bytes = h.Serialize();
    EXPECT_EQ(bytes[0], c.tag);
    EXPECT_LE(bytes.size(), c.max_bytes);
    const HyperLogLog back = Decode(bytes);
    EXPECT_EQ(back.Estimate(), h.Estimate());
    EXPECT_EQ(back.Serialize(), bytes);
    EXPECT_EQ(back.empty(), c.n == 0);
  }
}

TEST(HyperLogLogTest, DenseEncodingsOfUnusualRegisters) {
  // All zero (a dense sketch can be read from old rows like that), all equal, all maximal,
  // a single register, every value 0..51: each round-trips through whichever encoding wins.
  std::vector<std::string> cases;
  cases.emplace_back(HyperLogLog::kRegisters, '\0');
  cases.emplace_back(HyperLogLog::kRegisters, '\x01');
  cases.emplace_back(HyperLogLog::kRegisters, static_cast<char>(51));
  std::string one(HyperLogLog::kRegisters, '\0');
  one[HyperLogLog::kRegisters - 1] = 51;
  cases.push_back(one);
  std::string every(HyperLogLog::kRegisters, '\0');
  std::mt19937 rng(3);
  for (auto& r : every) r = static_cast<char>(rng() % 52);  // near-uniform: long codes
  cases.push_back(every);
  std::string skewed;  // value v 2^(14 - v) times: a Huffman tree 15 deep, cut to 12
  for (int v = 1; v <= 14; ++v) skewed += std::string(size_t{1} << (14 - v), static_cast<char>(v));
  skewed += std::string(HyperLogLog::kRegisters - skewed.size(), static_cast<char>(15));
  cases.push_back(skewed);
  for (const std::string& regs : cases) {
    const HyperLogLog h = Decode(RawBlob(regs));
    const std::string bytes = h.Serialize();
    EXPECT_LE(bytes.size(), 1 + regs.size());
    const HyperLogLog back = Decode(bytes);
    EXPECT_EQ(back.Serialize(), bytes);
    EXPECT_EQ(Decode(RawBlob(regs)).Serialize(), bytes);
    EXPECT_TRUE(back.Estimate() == h.Estimate() ||
                (std::isnan(h.Estimate()) && std::isnan(back.Estimate())));
  }
}

TEST(HyperLogLogTest, OldEncodingsStillRead) {
  for (int n : {0, 1, 37, 256}) {  // what the old code wrote sparse: the hashes themselves
    const std::vector<uint64_t> hashes = KeyHashes(n);
    std::vector<uint64_t> unsorted = hashes;
    std::reverse(unsorted.begin(), unsorted.end());
    const HyperLogLog old = Decode(OldSparseBlob(unsorted));
    EXPECT_EQ(old.Estimate(), n);
    EXPECT_EQ(old.Serialize(), FromHashes(hashes).Serialize());
  }
  for (int n : {257, 1000, 100000}) {  // dense: zstd of the registers, or the raw registers
    const std::vector<uint64_t> hashes = KeyHashes(n);
    const HyperLogLog fresh = FromHashes(hashes);
    const std::string regs = OracleRegisters(hashes);
    for (const std::string& blob : {OldDenseBlob(regs), RawBlob(regs)}) {
      const HyperLogLog old = Decode(blob);
      EXPECT_EQ(old.Estimate(), fresh.Estimate()) << n;
      EXPECT_EQ(old.Serialize(), fresh.Serialize()) << n;
    }
  }
}

bool IsCorruption(const std::string& bytes) {
  auto h = HyperLogLog::Deserialize(bytes);
  return !h.ok() && h.status().code() == Status::Code::kCorruption;
}

// A tag byte, then fields (value, bit count) packed least significant bit first.
std::string Blob(std::string head, std::initializer_list<std::pair<uint64_t, int>> fields) {
  uint64_t acc = 0;
  int n = 0;
  for (auto [value, bits] : fields) {
    for (int i = 0; i < bits; ++i) {
      acc |= ((value >> i) & 1) << n;
      if (++n == 8) {
        head.push_back(static_cast<char>(acc));
        acc = n = 0;
      }
    }
  }
  if (n > 0) head.push_back(static_cast<char>(acc));
  return head;
}

TEST(HyperLogLogTest, RejectsMalformedBytes) {
  // Every strict prefix and every one-byte extension of a valid blob of each encoding.
  std::vector<std::string> valid;
  for (int n : {1, 100, 256, 1000, 3000, 100000})
    valid.push_back(FromHashes(KeyHashes(n)).Serialize());
  const std::string regs = OracleRegisters(KeyHashes(1000));
  valid.push_back(OldDenseBlob(regs));
  valid.push_back(RawBlob(regs));
  valid.push_back(OldSparseBlob(KeyHashes(3)));
  for (const std::string& v : valid) {
    SCOPED_TRACE("tag " + std::to_string(v[0]) + " size " + std::to_string(v.size()));
    for (size_t len = 1; len < v.size(); ++len) {
      if (v[0] == '\x01' && (len - 1) % 8 == 0) continue;  // fewer old hashes: still valid
      ASSERT_TRUE(IsCorruption(v.substr(0, len))) << "prefix " << len;
    }
    EXPECT_TRUE(IsCorruption(v + std::string(1, '\0')));
    EXPECT_TRUE(IsCorruption(v + "\xff"));
  }

  // The hand-made blobs below are well-formed but for one thing; this one is fine, as a
  // check on Blob(): one sparse entry at index 1 with k = 24 (gap 1: quotient 0, remainder 1).
  const std::string one = Blob("\x04\x01", {{24, 5}, {0, 1}, {1, 24}});
  ASSERT_TRUE(HyperLogLog::Deserialize(one).ok());
  EXPECT_EQ(HyperLogLog::Deserialize(one)->Estimate(), 1);
  EXPECT_EQ(HyperLogLog::Deserialize(one)->Serialize().size(), one.size());

  using S = std::string;
  const std::vector<S> bad = {
      S("\x00", 1),
      S("\x07"),
      S("\xff"),
      S("\x01\x01\x02", 3),
      S("\x02garbage"),
      S("\x03\x01\x02"),                                               // raw: wrong length
      RawBlob(S(HyperLogLog::kRegisters - 1, '\x01') + S(1, '\x34')),  // register 52
      S("\x04"),                                                       // no count
      S("\x04\x00\x00", 3),                                            // count 0, then bytes
      S("\x04\x80\x00", 3),                                            // non-canonical varint
      S("\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),           // count 2^64-1
      S("\x04\x80\x80\x80\x80\x10\x00", 7),                            // count 2^32
      S("\x04\x81\x80\x80\x80\x01\x00\x00\x00", 9),                    // count > 2^25
      Blob("\x04\x01", {{25, 5}}),                                     // Rice k 25 > 24
      Blob("\x04\x01", {{24, 5}, {7, 3}, {0, 24}}),                    // quotient 3 > 2^25 >> 24
      Blob("\x04\x01", {{0, 5}, {0xffffffff, 32}, {7, 3}}),            // ones to the end
      Blob("\x04\x02", {{24, 5},
                        {1, 2},
                        {0, 24},
                        {0, 1},  // index 2^24, rank 1,
                        {1, 2},
                        {0, 24}}),                           // then past 2^25
      Blob("\x04\x01", {{24, 5}, {0, 1}, {1, 24}, {1, 2}}),  // padding bits set
      Blob("\x04\x01", {{23, 5}, {7, 3}, {0, 1}, {0, 23}}),  // 3 << 23: no rank
      Blob("\x05", {{16385, 15}, {0, 4}}),                   // 16385 nonzero
      Blob("\x05", {{1, 15}, {14, 4}}),                      // Rice k 14 > 13
      Blob("\x05", {{2, 15},
                    {13, 4},
                    {1, 6},
                    {0, 4},
                    {1, 4},  // gap 16383, then
                    {1, 2},
                    {8191, 13},
                    {0, 1},
                    {0, 1},
                    {0, 13},
                    {0, 1}}),                                                   // past the end
      Blob("\x05", {{1, 15}, {0, 4}, {1, 6}, {1, 4}, {1, 4}, {0, 1}, {0, 1}}),  // value 0
      Blob("\x06", {{52, 6}}),                                                  // symbol 52 > 51
      Blob("\x06", {{2, 6}, {1, 4}, {1, 4}, {1, 4}}),                           // over-subscribed
      Blob("\x06", {{0, 6}, {13, 4}}),                                          // code length 13
      Blob("\x06", {{0, 6}, {1, 4}}),                                           // no register codes
      Blob("\x06", {{1, 6}, {0, 4}, {1, 4}, {1, 1}}),  // code '1' unassigned
  };
  for (size_t i = 0; i < bad.size(); ++i) EXPECT_TRUE(IsCorruption(bad[i])) << "case " << i;
  // That table (symbol 1 has the only code, '0') with all 16384 registers coded is fine.
  S ones = Blob("\x06", {{1, 6}, {0, 4}, {1, 4}});  // 14 bits; registers 0, 1 in bits 14, 15
  ones += S(16382 / 8 + 1, '\0');                   // the other 16382, and 2 padding bits
  ASSERT_TRUE(HyperLogLog::Deserialize(ones).ok());
  EXPECT_EQ(HyperLogLog::Deserialize(ones)->Serialize(),
            Decode(RawBlob(S(16384, '\x01'))).Serialize());

  // Random bytes after each tag: rejected or, if accepted, a sketch that re-encodes stably.
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::string b(1 + rng() % 40, '\0');
    for (auto& c : b) c = static_cast<char>(rng());
    b[0] = static_cast<char>(1 + rng() % 6);
    auto h = HyperLogLog::Deserialize(b);
    if (!h.ok()) {
      EXPECT_EQ(h.status().code(), Status::Code::kCorruption);
      continue;
    }
    const std::string again = h->Serialize();
    EXPECT_EQ(Decode(again).Serialize(), again);
  }
  // Bit flips in valid blobs: never a crash; accepted ones re-encode stably.
  for (const std::string& v : valid) {
    for (size_t i = 1; i < v.size(); i += std::max<size_t>(1, v.size() / 300)) {
      std::string b = v;
      b[i] ^= static_cast<char>(1 << (i % 8));
      auto h = HyperLogLog::Deserialize(b);
      if (h.ok()) {
        const std::string again = h->Serialize();
        EXPECT_EQ(Decode(again).Serialize(), again);
      }
    }
  }
}

TEST(HyperLogLogTest, SparseMergesIntoDense) {
  HyperLogLog dense, sparse, all;
  for (int i = 0; i < 40000; ++i) dense.Add(Key(i));
  for (int i = 40000; i < 40050; ++i) sparse.Add(Key(i));
  for (int i = 0; i < 40050; ++i) all.Add(Key(i));
  dense.Merge(sparse);
  EXPECT_EQ(dense.Estimate(), all.Estimate());
  EXPECT_EQ(dense.Serialize(), all.Serialize());
  sparse.Merge(dense);
  EXPECT_EQ(sparse.Estimate(), all.Estimate());
  EXPECT_EQ(sparse.Serialize(), all.Serialize());
}

// Not a pass/fail test: prints serialized sizes and Serialize/Deserialize times (run with
// --gtest_also_run_disabled_tests to see them).
TEST(HyperLogLogTest, DISABLED_SizesAndTimes) {
  for (int n : {100, 256, 300, 1000, 3000, 10000, 100000}) {
    const HyperLogLog h = FromHashes(KeyHashes(n));
    const std::string bytes = h.Serialize();
    const int reps = 2000;
    size_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) sink += h.Serialize().size();
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) sink += HyperLogLog::Deserialize(bytes)->empty();
    const auto t2 = std::chrono::steady_clock::now();
    auto us = [&](auto a, auto b) {
      return std::chrono::duration<double, std::micro>(b - a).count() / reps;
    };
    std::printf("n=%7d tag %d %6zu B  serialize %6.1f us  deserialize %6.1f us (%zu)\n", n,
                bytes[0], bytes.size(), us(t0, t1), us(t1, t2), sink % 2);
  }
}

}  // namespace
}  // namespace sluice
