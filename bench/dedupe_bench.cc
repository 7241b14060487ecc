// DedupeIndex at the size the ingest issue measures: 10M remembered ids in the smallest
// table whose guaranteed window holds them (kSlots: 0.8 * 7/8 of it >= 10M). Reports inserts/s,
// lookups/s of present ids, and bytes per remembered id.
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

constexpr uint64_t kSlots = 14'300'000;

void BM_DedupeInsert10M(benchmark::State& state) {
  constexpr size_t kIds = 10'000'000;
  static const std::vector<Fingerprint> ids = Ids(kIds, 1);
  for (auto _ : state) {
    DedupeIndex idx(kSlots);
    for (const auto& f : ids) benchmark::DoNotOptimize(idx.Insert(f));
    state.counters["bytes_per_id"] =
        static_cast<double>(idx.memory_bytes()) / static_cast<double>(idx.size());
    state.counters["window_ids"] = static_cast<double>(idx.guaranteed_window());
    state.counters["ids"] = static_cast<double>(idx.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kIds));
}
BENCHMARK(BM_DedupeInsert10M)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_DedupeLookupPresentAt10M(benchmark::State& state) {
  constexpr size_t kIds = 10'000'000;
  static const std::vector<Fingerprint> ids = Ids(kIds, 1);
  static DedupeIndex* idx = [] {
    auto* i = new DedupeIndex(kSlots);
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
