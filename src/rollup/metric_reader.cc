// MetricReader (metric_reader.h).
#include "rollup/metric_reader.h"

#include "common/clock.h"

namespace sluice {

Result<MetricAnswer> MetricReader::Query(const std::string& tenant, const std::string& name,
                                         const QueryParams& params) {
  std::optional<MetricSpec> spec;
  bool complete = true;
  for (const auto& d : rollups_->Definitions(tenant)) {
    if (d.metric.spec.name != name) continue;
    spec = d.metric.spec;
    complete = d.backfill_done;
  }
  if (!spec) {
    std::string known;
    for (const auto& d : rollups_->Definitions(tenant)) {
      known += (known.empty() ? "" : ", ") + d.metric.spec.name;
    }
    return Status::InvalidArgument("unknown metric '" + name + "' (defined: " + known + ")");
  }
  const int64_t now = NowMicros();
  auto q = ParseMetricQuery(tenant, *spec, params, now, max_points_);
  if (!q.ok()) return q.status();
  const bool cacheable = complete && MetricQueryCache::Cacheable(*q, now);
  const std::string key = cacheable ? q->CacheKey() : std::string();
  // Read before the query runs (query_cache.h).
  const uint64_t generation = rollups_->Generation(tenant, name);
  if (cacheable) {
    if (auto hit = cache_.Get(key, generation)) return MetricAnswer{hit, true};
  }
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  auto result = RunMetricQuery(*con, *q);
  if (!result.ok()) return result.status();
  result->complete = complete;
  auto shared = std::make_shared<const MetricResult>(std::move(*result));
  if (cacheable) cache_.Put(key, generation, shared);
  return MetricAnswer{shared, false};
}

}  // namespace sluice
