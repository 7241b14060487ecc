// MetricDefinition: a metric as stored in rollup_metrics — its spec, the tenant it
// applies to, and where its history comes from (SPEC §6; issue 5 "a metric defined after
// events arrived is backfilled").
//
// A definition is registered at a log offset (start_offset) by the rollup consumer thread,
// between two of its batches: log records from start_offset on are applied live, and
// events stored before it are replayed from the store by the backfill, hour by hour, each
// hour committed with its progress. So every event contributes exactly once — live or
// backfilled — even across crashes in the middle of a backfill.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/metric_spec.h"
#include "common/status.h"
#include "rollup/rollup_cells.h"
#include "store/duckdb_handle.h"

namespace sluice {

// Tenant value in rollup_metrics for metrics of every tenant (built-in and config).
inline constexpr const char* kAllTenants = "*";

struct MetricDefinition {
  ActiveMetric metric;  // metric.tenant empty = every tenant
  uint64_t start_offset = 0;
  bool backfill_done = false;
  int64_t backfill_cursor_us = INT64_MIN;  // events before this are backfilled
  int64_t backfill_end_us = INT64_MIN;     // newest stored event time when the backfill began
  uint64_t backfill_events = 0;
};

std::string MetricSpecToJson(const MetricSpec& spec);
Result<MetricSpec> MetricSpecFromJson(std::string_view json);
// The definition with its backfill progress, for GET /v1/admin/metrics.
std::string MetricDefinitionToJson(const MetricDefinition& d);

Result<std::vector<MetricDefinition>> LoadMetricDefinitions(duck::Connection& con);
// Inserts or replaces the row of `d` (inside the caller's transaction).
Status SaveMetricDefinition(duck::Connection& con, const MetricDefinition& d);
// Deletes the definition and every rollup row of it.
Status DropMetric(duck::Connection& con, const MetricDefinition& d);

}  // namespace sluice
