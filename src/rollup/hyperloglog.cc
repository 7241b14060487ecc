// HyperLogLog (hyperloglog.h): sparse/dense registers, XXH3 hashing, Ertl's estimator.
#include "rollup/hyperloglog.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sluice {

namespace {

constexpr int kQ = 64 - HyperLogLog::kPrecision;  // hash bits left for the rank
constexpr uint8_t kSparseTag = 1;
constexpr uint8_t kDenseTag = 2;

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

}  // namespace

void HyperLogLog::SetRegister(uint64_t hash) const {
  const uint32_t index = static_cast<uint32_t>(hash >> kQ);
  const uint64_t rest = hash << kPrecision;  // the low kQ bits, left-aligned
  const uint8_t rank =
      rest == 0 ? kQ + 1 : static_cast<uint8_t>(std::min(__builtin_clzll(rest) + 1, kQ + 1));
  dense_[index] = std::max(dense_[index], rank);
}

void HyperLogLog::AddHash(uint64_t hash) {
  if (!dense_.empty()) {
    SetRegister(hash);
    return;
  }
  sparse_.push_back(hash);
  if (sparse_.size() - sorted_prefix_ > kSparseMax) Compact();
}

void HyperLogLog::Add(std::string_view key) { AddHash(XXH3_64bits(key.data(), key.size())); }

void HyperLogLog::Compact() const {
  if (!dense_.empty() || sorted_prefix_ == sparse_.size()) return;
  std::sort(sparse_.begin(), sparse_.end());
  sparse_.erase(std::unique(sparse_.begin(), sparse_.end()), sparse_.end());
  sorted_prefix_ = sparse_.size();
  if (sparse_.size() > kSparseMax) ToDense();
}

void HyperLogLog::ToDense() const {
  dense_.assign(kRegisters, 0);
  for (uint64_t h : sparse_) SetRegister(h);
  sparse_.clear();
  sparse_.shrink_to_fit();
  sorted_prefix_ = 0;
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (other.empty()) return;
  other.Compact();
  if (other.dense_.empty()) {
    if (!dense_.empty()) {
      for (uint64_t h : other.sparse_) SetRegister(h);
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
  if (dense_.empty()) return static_cast<double>(sparse_.size());  // exact
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

std::string HyperLogLog::Serialize() const {
  Compact();
  std::string out;
  if (dense_.empty()) {
    out.reserve(1 + 8 * sparse_.size());
    out.push_back(static_cast<char>(kSparseTag));
    for (uint64_t h : sparse_) {
      for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>(h >> (8 * b)));
    }
    return out;
  }
  out.resize(1 + ZSTD_compressBound(kRegisters));
  out[0] = static_cast<char>(kDenseTag);
  const size_t n = ZSTD_compress(out.data() + 1, out.size() - 1, dense_.data(), kRegisters, 1);
  if (ZSTD_isError(n)) {  // cannot happen with a bound-sized buffer; keep the raw bytes
    out.assign(1, static_cast<char>(kDenseTag + 1));
    out.append(reinterpret_cast<const char*>(dense_.data()), kRegisters);
    return out;
  }
  out.resize(1 + n);
  return out;
}

Result<HyperLogLog> HyperLogLog::Deserialize(std::string_view bytes) {
  HyperLogLog h;
  if (bytes.empty()) return h;
  const uint8_t tag = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  if (tag == kSparseTag) {
    if (bytes.size() % 8 != 0) return Status::Corruption("hyperloglog: sparse length");
    h.sparse_.reserve(bytes.size() / 8);
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v |= uint64_t{static_cast<uint8_t>(bytes[i + b])} << (8 * b);
      h.sparse_.push_back(v);
    }
    h.sorted_prefix_ = 0;
    h.Compact();
    return h;
  }
  h.dense_.assign(kRegisters, 0);
  if (tag == kDenseTag) {
    const size_t n = ZSTD_decompress(h.dense_.data(), kRegisters, bytes.data(), bytes.size());
    if (ZSTD_isError(n) || n != kRegisters) return Status::Corruption("hyperloglog: dense frame");
  } else if (tag == kDenseTag + 1 && bytes.size() == kRegisters) {
    std::copy(bytes.begin(), bytes.end(), h.dense_.begin());
  } else {
    return Status::Corruption("hyperloglog: unknown encoding " + std::to_string(tag));
  }
  for (uint8_t r : h.dense_) {
    if (r > kQ + 1) return Status::Corruption("hyperloglog: register out of range");
  }
  return h;
}

}  // namespace sluice
