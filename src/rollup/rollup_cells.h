// Rollup cells: one window of one metric for one tenant and group, and how events and
// other cells fold into it (SPEC §6).
//
// A cell keeps count, sum, min, max and a HyperLogLog, which together answer every
// aggregate (avg = sum / count) and merge associatively: a batch's cells merge into the
// stored ones, minutes merge into hours and days, late events merge into old windows.
// Every merge is exact for count/min/max, exact up to floating-point order for sum, and
// register-wise max for the sketch — so the result does not depend on how events were
// batched, which is what makes rollups equal the exact SQL over the stored events.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metric_spec.h"
#include "rollup/event_fields.h"
#include "rollup/hyperloglog.h"

namespace sluice {

inline constexpr int64_t kMinuteUs = 60LL * 1000 * 1000;
inline constexpr int64_t kHourUs = 60 * kMinuteUs;

// A metric as the consumer applies it: to one tenant, or to every tenant when `tenant`
// is empty (built-in and config metrics).
struct ActiveMetric {
  std::string tenant;
  MetricSpec spec;
};

struct RollupKey {
  std::string tenant;
  std::string metric;
  int64_t bucket_us = 0;                           // window start, UTC
  std::array<std::string, kMaxDimensions> groups;  // "" past the metric's dimensions

  bool operator==(const RollupKey&) const = default;
};

struct RollupKeyHash {
  size_t operator()(const RollupKey& k) const;
};

struct RollupCell {
  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  HyperLogLog hll;  // only `unique` metrics add to it

  void Merge(const RollupCell& other);
};

using CellMap = std::unordered_map<RollupKey, RollupCell, RollupKeyHash>;

// Folds one event into the 1-minute cells of every metric in `metrics` that applies to it.
// Returns how many cells it touched.
int AddEvent(const std::vector<ActiveMetric>& metrics, simdjson::dom::parser* parser,
             const EventRow& row, CellMap* minutes);

// Floors `ts_us` to a multiple of `width_us` (also for times before 1970).
inline int64_t FloorTo(int64_t ts_us, int64_t width_us) {
  int64_t q = ts_us / width_us;
  if (ts_us % width_us < 0) --q;
  return q * width_us;
}

// The same cells at a coarser width (1m -> 1h).
CellMap Coarsen(const CellMap& cells, int64_t width_us);

}  // namespace sluice
