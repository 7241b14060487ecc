// HyperLogLog: the unique-count sketch behind `unique` metrics (SPEC §6, ≤ 2% error).
//
// 2^14 one-byte registers (standard error 1.04/sqrt(16384) = 0.81%), indexed by the top 14
// bits of a 64-bit XXH3 hash. Sketches of the same key space merge by register-wise max,
// which is what lets 1-minute windows roll up into hours and days and lets a late event
// update an old window: merging is order-free and idempotent.
//
// Most windows see few distinct keys, and 16 KiB per (minute, group) would dwarf the raw
// events, so a sketch starts sparse: the sorted distinct 64-bit hashes themselves, up to
// kSparseMax of them (HLL++'s idea, at full precision). A sparse sketch counts exactly
// (barring 64-bit hash collisions) — registers alone cannot tell two keys that share one
// apart, which costs a small window a few percent. Past kSparseMax the hashes become the
// registers they would have set, so dense registers do not depend on the path the keys
// took, and merging stays order-free. The dense estimate is Ertl's improved estimator
// ("New cardinality estimation algorithms for HyperLogLog sketches", 2017), which needs no
// empirical bias tables and is accurate from 0 to far beyond 2^32 keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr uint32_t kRegisters = 1u << kPrecision;

  void AddHash(uint64_t hash);
  void Add(std::string_view key);
  void Merge(const HyperLogLog& other);
  double Estimate() const;
  bool empty() const { return dense_.empty() && sparse_.empty(); }

  static constexpr size_t kSparseMax = 256;

  // Bytes for a BLOB column: [1][u64 hash]... (sparse) or [2][zstd(registers)].
  std::string Serialize() const;
  static Result<HyperLogLog> Deserialize(std::string_view bytes);

 private:
  // Sorts and dedupes sparse_; turns dense when it holds more than kSparseMax hashes.
  void Compact() const;
  void ToDense() const;
  void SetRegister(uint64_t hash) const;

  // Distinct key hashes while sparse; mutable so that const readers can compact.
  mutable std::vector<uint64_t> sparse_;
  mutable size_t sorted_prefix_ = 0;    // sparse_[0, sorted_prefix_) is compacted
  mutable std::vector<uint8_t> dense_;  // kRegisters bytes once dense
};

}  // namespace sluice
