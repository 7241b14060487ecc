// Metric queries: GET /v1/metrics/{name} and `sluice metrics NAME` (SPEC §3.2, §6).
//
// A query names a metric, a time range, a granularity (1m, 5m, 1h, 1d), optional
// group_by dimensions and filters (dimension:value), and a fixed UTC offset `tz` that
// moves day boundaries (storage and every other boundary stay UTC). It reads rollup_1m
// (for 1m and 5m, and for days in a zone whose offset is not whole hours) or rollup_1h
// (for 1h and 1d), merges the cells into buckets per group in C++ (HyperLogLog registers
// merge, they do not add), and zero-fills: every group has one point per bucket. Points
// with no events are 0 for count, sum and unique, and null for avg, min and max (there is
// no such value, and 0 would be a lie).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/metric_spec.h"
#include "common/status.h"
#include "query/query_string.h"
#include "query/sql_result.h"
#include "rollup/rollup_cells.h"
#include "store/duckdb_handle.h"

namespace sluice {

struct MetricQuery {
  std::string tenant;
  MetricSpec spec;
  std::string granularity = "1h";
  int64_t width_us = kHourUs;
  int64_t from_us = 0;  // first bucket start (aligned)
  int64_t to_us = 0;    // end of the last bucket (aligned, exclusive)
  int64_t tz_offset_us = 0;
  std::vector<std::string> group_by;                         // subset of spec.dimensions
  std::vector<std::pair<std::string, std::string>> filters;  // dimension, value

  size_t points() const { return static_cast<size_t>((to_us - from_us) / width_us); }
  // Identifies the query for the cache (tenant included).
  std::string CacheKey() const;
};

struct MetricSeries {
  std::vector<std::string> group;  // values of group_by, in order
  std::vector<RollupCell> cells;   // one per bucket
};

struct MetricResult {
  MetricQuery query;
  std::vector<MetricSeries> series;
  // False while the metric's backfill is running: windows before its definition may still
  // be missing events.
  bool complete = true;

  std::string ToJson() const;
  // Rows (t, group columns..., value) for the table/csv/json formats of `sluice query`.
  SqlResult ToTable() const;
};

// Parses the query string of a metrics request for `spec` (the metric the path named).
// `now_us` supplies the default range (the last 24 hours). InvalidArgument says what is wrong.
Result<MetricQuery> ParseMetricQuery(const std::string& tenant, const MetricSpec& spec,
                                     const QueryParams& params, int64_t now_us, size_t max_points);

// Runs `q` against the rollup tables on `con`.
Result<MetricResult> RunMetricQuery(duck::Connection& con, const MetricQuery& q);

// The bucket start that holds `ts_us` for a width and zone offset.
int64_t BucketStart(int64_t ts_us, int64_t width_us, int64_t tz_offset_us);

// RFC 3339 in UTC with a trailing Z ("2026-11-25T10:00:00Z"), to the second unless
// there are fractional microseconds.
std::string FormatUtc(int64_t us);

}  // namespace sluice
