// DedupeIndex at the size the ingest issue measures: 10M remembered ids.
//
// Two table sizes: 14.3M slots, the smallest whose guaranteed window (0.8 * 7/8 of the
// slots) holds 10M ids, and 2^24 slots, the configured default. Reported per run:
//   bytes_per_id  memory_bytes() / guaranteed_window(): what one id the index promises to
//                 remember costs once the window is full (the figure README quotes);
//   bytes_per_held memory_bytes() / size() right after the 10M inserts.
// The fill benchmark starts from a fresh table, so it also pays the page faults of the
// lazily mapped table, as a restarted server would. The steady-state benchmark runs a
// table that has already wrapped many times, so every insert also pays its share of the
// generation sweeps.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ingest/dedupe_index.h"

namespace sluice {
namespace {

std::vector<Fingerprint> Ids(size_t n, uint64_t salt) {
  std::vector<Fingerprint> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    v.push_back(FingerprintOf("default", "evt-" + std::to_string(salt) + "-" + std::to_string(i)));
  }
  return v;
}

// SplitMix64: random fingerprints without hashing strings.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr size_t kIds = 10'000'000;
constexpr uint64_t kFittedSlots = 14'300'000;
constexpr uint64_t kDefaultSlots = 1ull << 24;

const std::vector<Fingerprint>& TenMillionIds() {
  static const std::vector<Fingerprint> ids = Ids(kIds, 1);
  return ids;
}

void BM_DedupeInsert10M(benchmark::State& state) {
  const auto& ids = TenMillionIds();
  const uint64_t slots = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    DedupeIndex idx(slots);
    for (const auto& f : ids) benchmark::DoNotOptimize(idx.Insert(f));
    state.counters["bytes_per_id"] =
        static_cast<double>(idx.memory_bytes()) / static_cast<double>(idx.guaranteed_window());
    state.counters["bytes_per_held"] =
        static_cast<double>(idx.memory_bytes()) / static_cast<double>(idx.size());
    state.counters["window_ids"] = static_cast<double>(idx.guaranteed_window());
    state.counters["ids"] = static_cast<double>(idx.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kIds));
}
BENCHMARK(BM_DedupeInsert10M)
    ->Arg(kFittedSlots)
    ->Arg(kDefaultSlots)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// New ids into a full, wrapped table: the rate a long-running server sees. Ids come from
// an array, as in Ingestor::Submit (hashed before the lock, inserted in a tight loop);
// each pass over it XORs a fresh salt in, which keeps the ids new and uniform.
void BM_DedupeInsertSteadyState(benchmark::State& state) {
  const uint64_t slots = static_cast<uint64_t>(state.range(0));
  constexpr size_t kBatch = 1 << 22;
  std::vector<Fingerprint> base(kBatch);
  for (size_t i = 0; i < kBatch; ++i) base[i] = Fingerprint{Mix(2 * i), Mix(2 * i + 1)};
  DedupeIndex idx(slots);
  uint64_t pass = 0;
  size_t i = kBatch;
  uint64_t salt = 0;
  auto next = [&] {
    if (i == kBatch) {
      i = 0;
      salt = Mix(~pass++);
    }
    const Fingerprint& b = base[i++];
    return Fingerprint{b.lo ^ salt, b.hi ^ salt};
  };
  while (idx.evicted() < 2 * idx.capacity()) idx.Insert(next());
  const uint64_t evicted_before = idx.evicted();
  for (auto _ : state) benchmark::DoNotOptimize(idx.Insert(next()));
  state.SetItemsProcessed(state.iterations());
  state.counters["evicted"] = static_cast<double>(idx.evicted() - evicted_before);
  state.counters["bytes_per_id"] =
      static_cast<double>(idx.memory_bytes()) / static_cast<double>(idx.guaranteed_window());
}
BENCHMARK(BM_DedupeInsertSteadyState)->Arg(kFittedSlots)->Arg(kDefaultSlots)->MinTime(3.0);

// As the ingestor inserts: batches of 500 ids (one request), prefetching range(1) ids
// ahead (0 = no prefetch), into a full table of the default size.
void BM_DedupeInsertBatch(benchmark::State& state) {
  const uint64_t slots = static_cast<uint64_t>(state.range(0));
  const size_t ahead = static_cast<size_t>(state.range(1));
  constexpr size_t kBatch = 500;
  DedupeIndex idx(slots);
  uint64_t k = 0;
  while (idx.evicted() < idx.capacity()) idx.Insert(Fingerprint{Mix(2 * k), Mix(2 * k + 1)}), ++k;
  std::vector<Fingerprint> batch(kBatch);
  for (auto _ : state) {
    for (auto& f : batch) f = Fingerprint{Mix(2 * k), Mix(2 * k + 1)}, ++k;
    for (size_t i = 0; ahead && i < std::min(kBatch, ahead); ++i) idx.Prefetch(batch[i]);
    for (size_t i = 0; i < kBatch; ++i) {
      if (ahead && i + ahead < kBatch) idx.Prefetch(batch[i + ahead]);
      benchmark::DoNotOptimize(idx.Insert(batch[i]));
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_DedupeInsertBatch)
    ->Args({kDefaultSlots, 0})
    ->Args({kDefaultSlots, 8})
    ->Args({kDefaultSlots, 16})
    ->MinTime(2.0);

void BM_DedupeLookupPresentAt10M(benchmark::State& state) {
  const auto& ids = TenMillionIds();
  static DedupeIndex* idx = [&] {
    auto* i = new DedupeIndex(kFittedSlots);
    for (const auto& f : ids) i->Insert(f);
    return i;
  }();
  size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(idx->Insert(ids[k]));  // a duplicate: found, not inserted
    k = (k * 7919 + 1) % kIds;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DedupeLookupPresentAt10M);

}  // namespace
}  // namespace sluice
