// MetricReader: answers metric queries for the HTTP API and the CLI — looks the metric up
// for the tenant, parses the request, serves closed ranges from the cache and reads the
// rollup tables otherwise (metric_query.h, query_cache.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "query/query_string.h"
#include "rollup/metric_query.h"
#include "rollup/query_cache.h"
#include "rollup/rollup_consumer.h"
#include "store/event_store.h"

namespace sluice {

struct MetricAnswer {
  std::shared_ptr<const MetricResult> result;
  bool from_cache = false;
};

class MetricReader {
 public:
  MetricReader(EventStore* store, RollupConsumer* rollups, size_t max_points, size_t cache_entries)
      : store_(store), rollups_(rollups), max_points_(max_points), cache_(cache_entries) {}

  // InvalidArgument (a 400) for an unknown metric or a bad request; other codes are
  // server-side failures.
  Result<MetricAnswer> Query(const std::string& tenant, const std::string& name,
                             const QueryParams& params);

  const MetricQueryCache& cache() const { return cache_; }

 private:
  EventStore* const store_;
  RollupConsumer* const rollups_;
  const size_t max_points_;
  MetricQueryCache cache_;
};

}  // namespace sluice
