// A real log, ingestor (dedupe), DuckDB store and store consumer in a temp dir, plus the
// exact SQL that every rollup must equal: the tests compare rollup rows with aggregates
// computed over the stored events (the tiered `events` view), cell by cell.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "ingest/ingestor.h"
#include "log/log.h"
#include "rollup/rollup_consumer.h"
#include "store/event_store.h"
#include "store/store_consumer.h"

namespace sluice::test {

// One window's aggregates, as stored or as computed by SQL.
struct Aggregates {
  uint64_t count = 0;
  double sum = 0;
  double min = 0, max = 0;  // only when numeric
  double unique = 0;        // HLL estimate or exact distinct
};
// (tenant, metric, window start µs, g1, g2, g3)
using WindowKey =
    std::tuple<std::string, std::string, int64_t, std::string, std::string, std::string>;
using Windows = std::map<WindowKey, Aggregates>;

class RollupFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Dedupes and logs `events` (as the HTTP path does); returns how many were accepted.
  size_t Ingest(std::vector<Event> events);
  // Applies the log to the store (the backfill's source of truth).
  void DrainStore();
  // Metrics of the test config besides the built-ins.
  static std::vector<MetricSpec> ConfigMetrics();
  RollupConsumerOptions Options(std::vector<MetricSpec> extra = ConfigMetrics());

  // Rows of rollup_1m or rollup_1h.
  Windows StoredWindows(int64_t width_us);
  // The same windows computed from the stored events for the metrics `defs` describe.
  Windows ExactWindows(int64_t width_us, const std::vector<MetricDefinition>& defs);
  // Asserts both tables equal the exact SQL: count/min/max exactly, sum to 1e-9 relative,
  // unique within 2% (or 1 for tiny windows).
  void ExpectRollupsExact(const std::vector<MetricDefinition>& defs);

  // A random stream: several tenants and types, late events (days old), numeric and
  // non-numeric amounts, missing dimensions; `dup_ratio` of events repeat an earlier id
  // (some with different content: first write wins).
  std::vector<Event> RandomEvents(int n, double dup_ratio);

  std::string dir_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<EventStore> store_;
  std::mt19937_64 rng_{42};
  std::vector<Event> sent_;  // for duplicates
  int next_id_ = 0;
  int64_t now_us_ = 1764000000000000;  // 2025-11-24T16:00:00Z
};

}  // namespace sluice::test
