// Rollup cells (rollup_cells.h): folding events into minute cells, merging cells.
#include "rollup/rollup_cells.h"

#include <xxhash.h>

#include <algorithm>

namespace sluice {

size_t RollupKeyHash::operator()(const RollupKey& k) const {
  // Each field seeds the next one's hash, so ("ab","c") and ("a","bc") differ.
  uint64_t h = XXH3_64bits_withSeed(k.tenant.data(), k.tenant.size(), 0x5eed);
  h = XXH3_64bits_withSeed(k.metric.data(), k.metric.size(), h);
  h = XXH3_64bits_withSeed(&k.bucket_us, sizeof(k.bucket_us), h);
  for (const auto& g : k.groups) h = XXH3_64bits_withSeed(g.data(), g.size(), h);
  return static_cast<size_t>(h);
}

void RollupCell::Merge(const RollupCell& other) {
  count += other.count;
  sum += other.sum;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  hll.Merge(other.hll);
}

int AddEvent(const std::vector<ActiveMetric>& metrics, simdjson::dom::parser* parser,
             const EventRow& row, CellMap* minutes) {
  EventFields fields(parser, row);
  const int64_t minute = FloorTo(row.ts_us, kMinuteUs);
  // Reused across events: most events land in a cell that exists already, and looking it
  // up with a scratch key whose strings keep their capacity allocates nothing.
  thread_local RollupKey key;
  thread_local std::string unique_buf;
  int touched = 0;
  for (const ActiveMetric& m : metrics) {
    if (!m.tenant.empty() && m.tenant != row.tenant) continue;
    const MetricSpec& spec = m.spec;
    if (!spec.event_types.empty() && std::find(spec.event_types.begin(), spec.event_types.end(),
                                               row.type) == spec.event_types.end()) {
      continue;
    }
    double value = 0;
    std::string_view unique_key;
    switch (spec.aggregate) {
      case MetricAggregate::kCount:
        break;
      case MetricAggregate::kUnique:
        if (spec.property.empty()) {
          unique_key = fields.User();
        } else {
          unique_buf = fields.Text(spec.property);
          unique_key = unique_buf;
        }
        if (unique_key.empty()) continue;  // nothing to count for this event
        break;
      default: {
        auto v = fields.Number(spec.property);
        if (!v) continue;  // only events where the property is a number contribute
        value = *v;
      }
    }
    key.tenant.assign(row.tenant);
    key.metric.assign(spec.name);
    key.bucket_us = minute;
    for (size_t i = 0; i < kMaxDimensions; ++i) {
      if (i < spec.dimensions.size()) {
        fields.TextInto(spec.dimensions[i], &key.groups[i]);
      } else {
        key.groups[i].clear();
      }
    }
    auto it = minutes->find(key);
    if (it == minutes->end()) it = minutes->emplace(key, RollupCell()).first;
    RollupCell& cell = it->second;
    ++cell.count;
    if (spec.aggregate == MetricAggregate::kUnique) {
      cell.hll.Add(unique_key);
    } else if (spec.aggregate != MetricAggregate::kCount) {
      cell.sum += value;
      cell.min = std::min(cell.min, value);
      cell.max = std::max(cell.max, value);
    }
    ++touched;
  }
  return touched;
}

CellMap Coarsen(const CellMap& cells, int64_t width_us) {
  CellMap out;
  out.reserve(cells.size());
  for (const auto& [key, cell] : cells) {
    RollupKey k = key;
    k.bucket_us = FloorTo(key.bucket_us, width_us);
    out[std::move(k)].Merge(cell);
  }
  return out;
}

}  // namespace sluice
