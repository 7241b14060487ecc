// What reaches the rollup module from outside: a GET /v1/metrics query string, a metric
// definition's JSON (POST /v1/admin/metrics) and HyperLogLog bytes read back from DuckDB.
// None may crash; refusals are InvalidArgument (requests) or Corruption (sketch bytes); an
// accepted query stays within the point limit; a sketch that decodes re-encodes to bytes
// that decode to the same estimate.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "query/query_string.h"
#include "rollup/hyperloglog.h"
#include "rollup/metric_definition.h"
#include "rollup/metric_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  using sluice::Status;
  if (auto params = sluice::ParseQueryString(in); params.ok()) {
    sluice::MetricSpec spec{"m", sluice::MetricAggregate::kSum, {}, "amount", {"a", "b", "c"}};
    auto q = sluice::ParseMetricQuery("default", spec, *params, 1764000000000000, 5000);
    if (!q.ok() && q.status().code() != Status::Code::kInvalidArgument) abort();
    if (q.ok() && (q->points() == 0 || q->points() > 5000)) abort();
  }
  auto def = sluice::MetricSpecFromJson(in);
  if (!def.ok() && def.status().code() != Status::Code::kInvalidArgument) abort();
  if (def.ok() && !sluice::MetricSpecFromJson(sluice::MetricSpecToJson(*def)).ok()) abort();
  auto h = sluice::HyperLogLog::Deserialize(in);
  if (!h.ok() && h.status().code() != Status::Code::kCorruption) abort();
  if (h.ok()) {
    auto again = sluice::HyperLogLog::Deserialize(h->Serialize());
    if (!again.ok() || again->Estimate() != h->Estimate()) abort();
  }
  return 0;
}
