// HyperLogLog (hyperloglog.h): 25-bit sparse entries, 14-bit dense registers, Ertl's
// estimator, and the bit-level encodings (Rice-coded gaps, canonical Huffman ranks).
#include "rollup/hyperloglog.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/varint.h"

namespace sluice {

namespace {

constexpr int kP = HyperLogLog::kPrecision;
constexpr int kQ = 64 - kP;  // hash bits left for the dense rank
constexpr int kSparseP = HyperLogLog::kSparsePrecision;
constexpr int kSparseQ = 64 - kSparseP;  // hash bits left for the sparse rank
constexpr int kExtra = kSparseP - kP;    // index bits only sparse entries keep
constexpr uint32_t kExtraMask = (1u << kExtra) - 1;
constexpr uint8_t kMaxRank = kQ + 1;              // 51: the 50 rank bits all zero
constexpr uint8_t kMaxSparseRank = kSparseQ + 1;  // 40
constexpr int kRankBits = 6;                      // entry = index25 << 6 | rank
constexpr uint32_t kSparseSlots = 1u << kSparseP;

// Tags (first byte). 1-3 are what earlier versions wrote and are only read now.
constexpr uint8_t kOldSparseTag = 1;  // [u64 hash]...
constexpr uint8_t kOldDenseTag = 2;   // zstd(registers)
constexpr uint8_t kRawDenseTag = 3;   // registers; still written if it were the smallest
constexpr uint8_t kSparseTag = 4;     // varint n, then bits: k, n x (Rice gap, [rank])
constexpr uint8_t kGapDenseTag = 5;   // bits: nz, k, Huffman table, nz x (Rice gap, rank)
constexpr uint8_t kHuffDenseTag = 6;  // bits: Huffman table, 16384 x register

constexpr int kHuffMaxLen = 12;             // decode table of 2^12 entries
constexpr int kHuffSymbols = kMaxRank + 1;  // register values 0..51

double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1, z = x;
  while (true) {
    x *= x;
    const double prev = z;
    z += x * y;
    y += y;
    if (prev == z) return z;
  }
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1, z = 1 - x;
  while (true) {
    x = std::sqrt(x);
    const double prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (prev == z) return z / 3;
  }
}

uint8_t DenseRank(uint64_t hash) {
  const uint64_t rest = hash << kP;  // the low kQ bits, left-aligned
  return rest == 0 ? kMaxRank : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
}

// The sparse entry of a hash: its top 25 bits, and the rank of the other 39 only when the
// 11 index bits below the dense index are all zero — otherwise those bits alone fix the
// dense rank and the sparse rank can never matter, so it is 0 (one canonical entry per
// index, which keeps merged and re-read sketches byte-identical).
uint32_t EntryOf(uint64_t hash) {
  const uint32_t index = static_cast<uint32_t>(hash >> kSparseQ);
  if ((index & kExtraMask) != 0) return index << kRankBits;
  const uint64_t rest = hash << kSparseP;
  const uint32_t rank = rest == 0 ? kMaxSparseRank : __builtin_clzll(rest) + 1;
  return index << kRankBits | rank;
}

// The dense register and rank the entry's hash would have set directly.
inline void EntryToRegister(uint32_t entry, uint32_t* reg, uint8_t* rank) {
  const uint32_t index = entry >> kRankBits;
  *reg = index >> kExtra;
  const uint32_t extra = index & kExtraMask;
  *rank = extra != 0 ? static_cast<uint8_t>(__builtin_clz(extra) - (32 - kExtra) + 1)
                     : static_cast<uint8_t>(kExtra + (entry & ((1u << kRankBits) - 1)));
}

// ---- bits, least significant first ------------------------------------------------------

// Appends to `out`, which it sizes for at most `max_bits` more bits up front.
class BitWriter {
 public:
  BitWriter(std::string* out, uint64_t max_bits) : out_(out), start_(out->size()) {
    out->resize(start_ + max_bits / 8 + 16);
    p_ = out->data() + start_;
  }
  inline void Put(uint64_t value, int bits) {  // bits <= 32
    acc_ |= value << n_;
    n_ += bits;
    if (n_ >= 32) {
      const uint32_t word = static_cast<uint32_t>(acc_);
      std::memcpy(p_, &word, 4);  // little-endian hosts only (x86-64, arm64)
      p_ += 4;
      acc_ >>= 32;
      n_ -= 32;
    }
  }
  void PutOnes(uint32_t count) {
    while (count >= 32) {
      Put(0xFFFFFFFFu, 32);
      count -= 32;
    }
    Put((uint64_t{1} << count) - 1, static_cast<int>(count));
  }
  inline void PutRice(uint32_t value, int k) {
    PutOnes(value >> k);
    Put(0, 1);
    Put(value & ((uint32_t{1} << k) - 1), k);
  }
  void Finish() {
    for (; n_ > 0; n_ -= 8) {
      *p_++ = static_cast<char>(acc_);
      acc_ >>= 8;
    }
    n_ = 0;
    out_->resize(static_cast<size_t>(p_ - out_->data()));
  }

 private:
  std::string* out_;
  size_t start_;
  char* p_;
  uint64_t acc_ = 0;
  int n_ = 0;
};

// Reads never touch memory past the input: bits beyond it read as zero and mark the reader
// bad, which every decoder checks before trusting what it read.
class BitReader {
 public:
  explicit BitReader(std::string_view in)
      : p_(reinterpret_cast<const uint8_t*>(in.data())), bits_(uint64_t{in.size()} * 8) {}
  // The next 57 bits (zero past the end), without consuming them.
  uint64_t Peek() const {
    const size_t byte = pos_ >> 3;
    const size_t size = bits_ >> 3;
    uint64_t w = 0;
    if (byte + 8 <= size) {
      std::memcpy(&w, p_ + byte, 8);  // little-endian hosts only (x86-64, arm64)
    } else {
      for (size_t i = 0; byte + i < size; ++i) w |= uint64_t{p_[byte + i]} << (8 * i);
    }
    return w >> (pos_ & 7);
  }
  void Skip(int bits) {
    pos_ += bits;
    if (pos_ > bits_) bad_ = true;
  }
  uint32_t Get(int bits) {  // bits <= 32
    if (bits == 0) return 0;
    const uint32_t v = static_cast<uint32_t>(Peek() & ((uint64_t{1} << bits) - 1));
    Skip(bits);
    return v;
  }
  // Unary ones up to a zero; false (and bad) if more than `max` ones.
  bool GetOnes(uint32_t max, uint32_t* count) {
    uint32_t n = 0;
    while (true) {
      const uint64_t w = ~Peek() | (uint64_t{1} << 56);
      const int ones = __builtin_ctzll(w);
      n += ones;
      if (n > max) {
        bad_ = true;
        return false;
      }
      if (ones < 56) {
        Skip(ones + 1);
        *count = n;
        return !bad_;
      }
      Skip(56);
      if (bad_) return false;
    }
  }
  // Truncated unary: ones up to a zero, or exactly `max` ones (max < 57) with no zero.
  uint32_t GetTruncatedOnes(int max) {
    const int ones = __builtin_ctzll(~Peek() | (uint64_t{1} << max));
    Skip(ones < max ? ones + 1 : max);
    return static_cast<uint32_t>(ones);
  }
  bool GetRice(int k, uint32_t max_quotient, uint32_t* value) {
    uint32_t q;
    if (!GetOnes(max_quotient, &q)) return false;
    *value = (q << k) | Get(k);
    return !bad_;
  }
  bool bad() const { return bad_; }
  // Everything consumed, the padding of the last byte zero, no bytes left over.
  bool AtCleanEnd() const {
    if (bad_ || bits_ - pos_ >= 8) return false;
    return pos_ == bits_ || (Peek() & ((uint64_t{1} << (bits_ - pos_)) - 1)) == 0;
  }

 private:
  const uint8_t* p_;
  uint64_t bits_;
  uint64_t pos_ = 0;
  bool bad_ = false;
};

// Bits of Rice(k) for all values, and the k that minimizes them. `values` are gaps whose
// mean is `mean`; the optimum is within a step or two of log2(mean).
template <typename Gaps>
int BestRiceK(const Gaps& gaps, size_t n, double mean, int max_k, uint64_t* bits) {
  int guess = mean < 1 ? 0 : static_cast<int>(std::log2(mean));
  guess = std::clamp(guess, 0, max_k);
  int best_k = 0;
  uint64_t best = std::numeric_limits<uint64_t>::max();
  for (int k = std::max(0, guess - 2); k <= std::min(max_k, guess + 1); ++k) {
    uint64_t total = uint64_t{n} * (k + 1);
    for (size_t i = 0; i < n; ++i) total += gaps(i) >> k;
    if (total < best) {
      best = total;
      best_k = k;
    }
  }
  *bits = best;
  return best_k;
}

// ---- canonical Huffman over register values ---------------------------------------------

struct Huffman {
  std::array<uint8_t, kHuffSymbols> len{};
  std::array<uint16_t, kHuffSymbols> code{};  // bit-reversed, ready for the LSB-first writer
  int max_symbol = -1;                        // highest symbol with a code

  // Length-limited code lengths for these frequencies (halving them until the tree fits).
  static Huffman Build(const uint32_t* freq) {
    Huffman h;
    std::array<uint64_t, kHuffSymbols> f{};
    int used = 0;
    for (int s = 0; s < kHuffSymbols; ++s) {
      f[s] = freq[s];
      if (f[s] > 0) {
        ++used;
        h.max_symbol = s;
      }
    }
    if (used == 1) {
      h.len[h.max_symbol] = 1;
    } else if (used > 1) {
      while (!h.TryLengths(f)) {
        for (auto& x : f) x = x == 0 ? 0 : (x >> 1) | 1;
      }
    }
    h.AssignCodes();
    return h;
  }

  bool TryLengths(const std::array<uint64_t, kHuffSymbols>& f) {
    // Two-queue Huffman over leaves sorted by (frequency, symbol): deterministic.
    struct Node {
      uint64_t w;
      int parent;
    };
    std::vector<Node> nodes;
    std::vector<int> leaves;
    for (int s = 0; s < kHuffSymbols; ++s) {
      if (f[s] > 0) leaves.push_back(s);
    }
    std::stable_sort(leaves.begin(), leaves.end(), [&](int a, int b) { return f[a] < f[b]; });
    for (int s : leaves) nodes.push_back({f[s], -1});
    size_t leaf = 0, inner = leaves.size();
    auto take = [&]() {
      if (leaf < leaves.size() && (inner >= nodes.size() || nodes[leaf].w <= nodes[inner].w)) {
        return static_cast<int>(leaf++);
      }
      return static_cast<int>(inner++);
    };
    for (size_t merges = 0; merges + 1 < leaves.size(); ++merges) {
      const int a = take(), b = take();
      nodes.push_back({nodes[a].w + nodes[b].w, -1});
      nodes[a].parent = nodes[b].parent = static_cast<int>(nodes.size() - 1);
    }
    for (size_t i = 0; i < leaves.size(); ++i) {
      int depth = 0;
      for (int n = static_cast<int>(i); nodes[n].parent >= 0; n = nodes[n].parent) ++depth;
      if (depth > kHuffMaxLen) return false;
      len[leaves[i]] = static_cast<uint8_t>(depth);
    }
    return true;
  }

  // Canonical codes from the lengths; false if they over-subscribe the code space.
  bool AssignCodes() {
    uint32_t next = 0;
    for (int l = 1; l <= kHuffMaxLen; ++l) {
      for (int s = 0; s < kHuffSymbols; ++s) {
        if (len[s] != l) continue;
        if (next >= (1u << l)) return false;
        uint32_t rev = 0;
        for (int b = 0; b < l; ++b) rev |= ((next >> b) & 1) << (l - 1 - b);
        code[s] = static_cast<uint16_t>(rev);
        ++next;
      }
      next <<= 1;
    }
    return true;
  }

  uint64_t Bits(const uint32_t* freq) const {
    uint64_t total = TableBits();
    for (int s = 0; s <= max_symbol; ++s) total += uint64_t{freq[s]} * len[s];
    return total;
  }
  uint64_t TableBits() const { return 6 + 4 * static_cast<uint64_t>(max_symbol + 1); }

  void WriteTable(BitWriter* w) const {
    w->Put(static_cast<uint32_t>(max_symbol), 6);
    for (int s = 0; s <= max_symbol; ++s) w->Put(len[s], 4);
  }
  void Write(BitWriter* w, uint8_t symbol) const { w->Put(code[symbol], len[symbol]); }
};

// Decodes symbols of a table read from the stream.
class HuffmanDecoder {
 public:
  bool ReadTable(BitReader* r) {
    const int max_symbol = static_cast<int>(r->Get(6));
    if (r->bad() || max_symbol >= kHuffSymbols) return false;
    Huffman h;
    h.max_symbol = max_symbol;
    for (int s = 0; s <= max_symbol; ++s) {
      const uint32_t l = r->Get(4);
      if (l > kHuffMaxLen) return false;
      h.len[s] = static_cast<uint8_t>(l);
    }
    if (r->bad() || !h.AssignCodes()) return false;
    table_.fill(0);
    for (int s = 0; s <= max_symbol; ++s) {
      const int l = h.len[s];
      if (l == 0) continue;
      for (uint32_t hi = 0; hi < (1u << (kHuffMaxLen - l)); ++hi) {
        table_[h.code[s] | (hi << l)] = static_cast<uint16_t>((s + 1) << 4 | l);
      }
    }
    return true;
  }
  // False on a bit pattern no code starts with, or past the end.
  bool Get(BitReader* r, uint8_t* symbol) {
    const uint16_t e = table_[r->Peek() & ((1u << kHuffMaxLen) - 1)];
    if (e == 0) return false;
    r->Skip(e & 15);
    *symbol = static_cast<uint8_t>((e >> 4) - 1);
    return !r->bad();
  }

  // n symbols, several per Peek (each code is at most 12 of its 57 bits), two per lookup
  // where both codes fit in the 12 bits looked up.
  bool GetMany(BitReader* r, uint8_t* out, size_t n) {
    constexpr uint32_t kMask = (1u << kHuffMaxLen) - 1;
    // pairs[i]: symbol 1 | symbol 2 << 8 | symbols (0-2) << 16 | bits << 24.
    std::array<uint32_t, 1u << kHuffMaxLen> pairs;
    for (uint32_t i = 0; i <= kMask; ++i) {
      const uint16_t e1 = table_[i];
      if (e1 == 0) {
        pairs[i] = 0;
        continue;
      }
      const int l1 = e1 & 15;
      const uint16_t e2 = table_[i >> l1];  // its top l1 bits are not real: check the length
      const uint32_t s1 = (e1 >> 4) - 1;
      if (e2 != 0 && l1 + (e2 & 15) <= kHuffMaxLen) {
        pairs[i] = s1 | uint32_t((e2 >> 4) - 1) << 8 | 2u << 16 | uint32_t(l1 + (e2 & 15)) << 24;
      } else {
        pairs[i] = s1 | 1u << 16 | uint32_t(l1) << 24;
      }
    }
    size_t i = 0;
    while (i < n) {
      uint64_t w = r->Peek();
      int used = 0;
      for (; used <= 57 - kHuffMaxLen && i + 1 < n;) {
        const uint32_t e = pairs[w & kMask];
        if (e == 0) return false;
        out[i] = static_cast<uint8_t>(e);
        out[i + 1] = static_cast<uint8_t>(e >> 8);  // overwritten next if only one
        i += (e >> 16) & 3;
        w >>= e >> 24;
        used += e >> 24;
      }
      for (; used <= 57 - kHuffMaxLen && i < n; ++i) {
        const uint16_t e = table_[w & kMask];
        if (e == 0) return false;
        w >>= e & 15;
        used += e & 15;
        out[i] = static_cast<uint8_t>((e >> 4) - 1);
      }
      r->Skip(used);
      if (r->bad()) return false;
    }
    return true;
  }

 private:
  std::array<uint16_t, 1u << kHuffMaxLen> table_;  // (symbol + 1) << 4 | length; 0 = none
};

Status Corrupt(const char* what) { return Status::Corruption(std::string("hyperloglog: ") + what); }

}  // namespace

// ---- the sketch --------------------------------------------------------------------------

void HyperLogLog::SetRegister(uint64_t hash) const {
  const uint32_t index = static_cast<uint32_t>(hash >> kQ);
  dense_[index] = std::max(dense_[index], DenseRank(hash));
}

void HyperLogLog::SetRegisters(const uint32_t* entries, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    uint32_t reg;
    uint8_t rank;
    EntryToRegister(entries[i], &reg, &rank);
    dense_[reg] = std::max(dense_[reg], rank);
  }
}

void HyperLogLog::AddHash(uint64_t hash) {
  if (!dense_.empty()) {
    SetRegister(hash);
    return;
  }
  sparse_.push_back(EntryOf(hash));
  if (sparse_.size() - sorted_prefix_ > kSparseMax) Compact();
}

void HyperLogLog::Add(std::string_view key) { AddHash(XXH3_64bits(key.data(), key.size())); }

void HyperLogLog::Compact() const {
  if (!dense_.empty() || sorted_prefix_ == sparse_.size()) return;
  std::sort(sparse_.begin(), sparse_.end());
  // One entry per index: the last of a run, which has the highest rank.
  size_t out = 0;
  for (size_t i = 0; i < sparse_.size(); ++i) {
    if (i + 1 < sparse_.size() && (sparse_[i] >> kRankBits) == (sparse_[i + 1] >> kRankBits)) {
      continue;
    }
    sparse_[out++] = sparse_[i];
  }
  sparse_.resize(out);
  sorted_prefix_ = sparse_.size();
  if (sparse_.size() > kSparseMax) ToDense();
}

void HyperLogLog::ToDense() const {
  dense_.assign(kRegisters, 0);
  SetRegisters(sparse_.data(), sparse_.size());
  sparse_.clear();
  sparse_.shrink_to_fit();
  sorted_prefix_ = 0;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (&other == this || other.empty()) return;  // merging is idempotent
  other.Compact();
  if (other.dense_.empty()) {
    if (!dense_.empty()) {
      SetRegisters(other.sparse_.data(), other.sparse_.size());
      return;
    }
    sparse_.insert(sparse_.end(), other.sparse_.begin(), other.sparse_.end());
    Compact();
    return;
  }
  if (dense_.empty()) ToDense();
  for (uint32_t i = 0; i < kRegisters; ++i) dense_[i] = std::max(dense_[i], other.dense_[i]);
}

double HyperLogLog::Estimate() const {
  Compact();
  if (dense_.empty()) return static_cast<double>(sparse_.size());  // distinct 25-bit indices
  const double m = kRegisters;
  // Histogram of register values; unseen registers are 0.
  int counts[kQ + 2] = {};
  for (uint8_t r : dense_) ++counts[r];
  double z = m * Tau(1.0 - counts[kQ + 1] / m);
  for (int k = kQ; k >= 1; --k) z = 0.5 * (z + counts[k]);
  z += m * Sigma(counts[0] / m);
  const double alpha_inf = 0.5 / std::log(2.0);
  return alpha_inf * m * m / z;
}

// Sparse: [4][varint n] then bits: k (5), and per entry in index order the Rice(k) gap to
// the previous index (minus one), followed — only when the entry's 11 extra index bits are
// zero — by its rank as truncated unary (rank - 1 ones, a zero unless rank is 40).
//
// Dense, whichever is smaller (ties to the first):
//   [5] bits: nonzero registers nz (15), k (4), a Huffman table over their values, then per
//       nonzero register the Rice(k) gap to the previous one and its Huffman-coded value;
//   [6] bits: a Huffman table over all register values, then all 16384 of them coded;
//   [3] the raw registers (bigger than both for any real sketch).
// A Huffman table is the highest symbol s (6 bits) and 4-bit code lengths for 0..s.
std::string HyperLogLog::Serialize() const {
  Compact();
  std::string out;
  if (dense_.empty()) {
    const size_t n = sparse_.size();
    out.push_back(static_cast<char>(kSparseTag));
    PutVarint(&out, n);
    if (n == 0) return out;
    auto gap = [&](size_t i) -> uint32_t {
      const uint32_t idx = sparse_[i] >> kRankBits;
      return i == 0 ? idx : idx - (sparse_[i - 1] >> kRankBits) - 1;
    };
    uint64_t bits;
    const int k = BestRiceK(gap, n, double(kSparseSlots) / n, 24, &bits);
    BitWriter w(&out, 5 + bits + uint64_t{kMaxSparseRank} * n);
    w.Put(static_cast<uint32_t>(k), 5);
    for (size_t i = 0; i < n; ++i) {
      w.PutRice(gap(i), k);
      if (((sparse_[i] >> kRankBits) & kExtraMask) == 0) {
        const uint32_t rank = sparse_[i] & ((1u << kRankBits) - 1);
        w.PutOnes(rank - 1);
        if (rank < kMaxSparseRank) w.Put(0, 1);
      }
    }
    w.Finish();
    return out;
  }

  // Histogram of the registers: eight sub-histograms so that runs of equal values do not
  // serialize on one counter, and zero words skipped whole.
  uint32_t all[kHuffSymbols] = {}, nonzero[kHuffSymbols] = {};
  uint32_t sub[8][kHuffSymbols] = {};
  const uint8_t* d = dense_.data();
  for (uint32_t i = 0; i < kRegisters; i += 8) {
    uint64_t word;
    std::memcpy(&word, d + i, 8);
    if (word == 0) continue;
    for (uint32_t j = 0; j < 8; ++j) ++sub[j][d[i + j]];
  }
  uint32_t nz = 0;
  for (int v = 1; v < kHuffSymbols; ++v) {
    for (int j = 0; j < 8; ++j) nonzero[v] += sub[j][v];
    all[v] = nonzero[v];
    nz += nonzero[v];
  }
  all[0] = kRegisters - nz;
  const Huffman regs = Huffman::Build(all);
  const uint64_t b_bits = regs.Bits(all);
  const Huffman ranks = Huffman::Build(nonzero);
  // Gaps cost at least a bit each: when that already loses, skip them (same choice).
  uint64_t a_bits = 15 + 4 + (nz == 0 ? 0 : nz + ranks.Bits(nonzero));
  std::vector<uint16_t> pos, gaps;  // plain arrays, so that BestRiceK's sums vectorize
  int k = 0;
  if (a_bits <= b_bits) {
    pos.resize(nz + 8);  // branch-free fill writes one past the last nonzero
    gaps.resize(nz);
    uint32_t n = 0;
    for (uint32_t i = 0; i < kRegisters; i += 8) {
      uint64_t word;
      std::memcpy(&word, d + i, 8);
      if (word == 0) continue;
      for (uint32_t j = i; j < i + 8; ++j) {
        pos[n] = static_cast<uint16_t>(j);
        n += d[j] != 0;
      }
    }
    for (uint32_t i = 0; i < nz; ++i) gaps[i] = i == 0 ? pos[0] : pos[i] - pos[i - 1] - 1;
    uint64_t gap_bits = 0;
    if (nz > 0) {
      k = BestRiceK([&](size_t i) -> uint32_t { return gaps[i]; }, nz, double(kRegisters - nz) / nz,
                    13, &gap_bits);
    }
    a_bits = 15 + 4 + gap_bits + (nz == 0 ? 0 : ranks.Bits(nonzero));
  } else {
    a_bits = std::numeric_limits<uint64_t>::max();
  }
  if (std::min(a_bits, b_bits) >= uint64_t{kRegisters} * 8) {
    out.push_back(static_cast<char>(kRawDenseTag));
    out.append(reinterpret_cast<const char*>(dense_.data()), kRegisters);
    return out;
  }
  const bool use_gaps = a_bits <= b_bits;
  out.push_back(static_cast<char>(use_gaps ? kGapDenseTag : kHuffDenseTag));
  BitWriter w(&out, std::min(a_bits, b_bits));
  if (use_gaps) {
    w.Put(nz, 15);
    w.Put(static_cast<uint32_t>(k), 4);
    if (nz > 0) ranks.WriteTable(&w);
    for (uint32_t i = 0; i < nz; ++i) {
      w.PutRice(gaps[i], k);
      ranks.Write(&w, dense_[pos[i]]);
    }
  } else {
    regs.WriteTable(&w);
    for (uint32_t i = 0; i < kRegisters; i += 2) {  // two codes (<= 24 bits) a Put
      const uint8_t r0 = d[i], r1 = d[i + 1];
      w.Put(regs.code[r0] | uint32_t{regs.code[r1]} << regs.len[r0], regs.len[r0] + regs.len[r1]);
    }
  }
  w.Finish();
  return out;
}

Result<HyperLogLog> HyperLogLog::Deserialize(std::string_view bytes) {
  HyperLogLog h;
  if (bytes.empty()) return h;
  const uint8_t tag = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  switch (tag) {
    case kOldSparseTag: {
      if (bytes.size() % 8 != 0) return Corrupt("sparse length");
      h.sparse_.reserve(bytes.size() / 8);
      for (size_t i = 0; i < bytes.size(); i += 8) {
        uint64_t v = 0;
        for (int b = 0; b < 8; ++b) v |= uint64_t{static_cast<uint8_t>(bytes[i + b])} << (8 * b);
        h.sparse_.push_back(EntryOf(v));
      }
      h.Compact();
      return h;
    }
    case kSparseTag: {
      uint64_t n;
      const size_t before = bytes.size();
      // Canonical (shortest) form only: one blob per sketch, so bytes round-trip exactly.
      if (!GetVarint(&bytes, &n) || before - bytes.size() != size_t(VarintLength(n))) {
        return Corrupt("sparse count");
      }
      if (n == 0) {
        if (!bytes.empty()) return Corrupt("sparse trailing bytes");
        return h;
      }
      // Every entry takes at least one bit, so n is bounded by the input (and memory by n).
      if (n > kSparseSlots || n > uint64_t{bytes.size()} * 8) return Corrupt("sparse count");
      BitReader r(bytes);
      const int k = static_cast<int>(r.Get(5));
      if (r.bad() || k > 24) return Corrupt("sparse rice parameter");
      h.sparse_.reserve(n);
      uint64_t next = 0;  // smallest index the next entry may have
      for (uint64_t i = 0; i < n; ++i) {
        uint32_t g;
        if (!r.GetRice(k, kSparseSlots >> k, &g)) return Corrupt("sparse gap");
        const uint64_t idx = next + g;
        if (idx >= kSparseSlots) return Corrupt("sparse index out of range");
        next = idx + 1;
        uint32_t rank = 0;
        if ((idx & kExtraMask) == 0) {
          rank = r.GetTruncatedOnes(kMaxSparseRank - 1) + 1;
        }
        h.sparse_.push_back(static_cast<uint32_t>(idx) << kRankBits | rank);
      }
      if (!r.AtCleanEnd()) return Corrupt("sparse trailing bits");
      h.sorted_prefix_ = h.sparse_.size();
      if (h.sparse_.size() > kSparseMax) h.ToDense();
      return h;
    }
    case kOldDenseTag:
    case kRawDenseTag: {
      h.dense_.assign(kRegisters, 0);
      if (tag == kOldDenseTag) {
        const size_t n = ZSTD_decompress(h.dense_.data(), kRegisters, bytes.data(), bytes.size());
        if (ZSTD_isError(n) || n != kRegisters) return Corrupt("dense frame");
      } else {
        if (bytes.size() != kRegisters) return Corrupt("raw dense length");
        std::copy(bytes.begin(), bytes.end(), h.dense_.begin());
      }
      for (uint8_t v : h.dense_) {
        if (v > kMaxRank) return Corrupt("register out of range");
      }
      return h;
    }
    case kGapDenseTag: {
      BitReader r(bytes);
      const uint32_t nz = r.Get(15);
      const int k = static_cast<int>(r.Get(4));
      if (r.bad() || nz > kRegisters || k > 13) return Corrupt("dense header");
      h.dense_.assign(kRegisters, 0);
      HuffmanDecoder dec;
      if (nz > 0 && !dec.ReadTable(&r)) return Corrupt("dense code table");
      uint32_t next = 0;
      for (uint32_t i = 0; i < nz; ++i) {
        uint32_t g;
        uint8_t v;
        if (!r.GetRice(k, kRegisters >> k, &g)) return Corrupt("dense gap");
        if (uint64_t{next} + g >= kRegisters) return Corrupt("dense index out of range");
        if (!dec.Get(&r, &v) || v == 0) return Corrupt("dense register code");
        h.dense_[next + g] = v;
        next += g + 1;
      }
      if (!r.AtCleanEnd()) return Corrupt("dense trailing bits");
      return h;
    }
    case kHuffDenseTag: {
      BitReader r(bytes);
      HuffmanDecoder dec;
      if (!dec.ReadTable(&r)) return Corrupt("dense code table");
      h.dense_.resize(kRegisters);
      if (!dec.GetMany(&r, h.dense_.data(), kRegisters)) return Corrupt("dense register code");
      if (!r.AtCleanEnd()) return Corrupt("dense trailing bits");
      return h;
    }
    default:
      return Corrupt("unknown encoding");
  }
}

}  // namespace sluice
