// RollupConsumer: the log consumer that keeps metrics current (SPEC §4 "rollups", §6).
//
// Each batch of log records is folded in memory into 1-minute cells per (tenant, metric,
// group), coarsened to 1-hour cells, and merged into rollup_1m / rollup_1h together with
// the consumer offset ("rollup" in consumer_offsets) in ONE DuckDB transaction on its own
// connection to the store's database. Only then is the log told. A crash at any point
// therefore leaves either the whole batch with its offset or neither: nothing is lost and
// nothing counted twice. Duplicates never reach the log (ingest dedupes before appending),
// so a duplicate never changes a rollup; a late event is just an event whose minute is
// old, and merging into that minute is the same operation as for a new one.
//
// The same thread registers metric definitions (config changes at start-up, and
// /v1/admin/metrics) between batches, and backfills them from the store hour by hour
// (metric_definition.h explains why that counts every event once).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/metric_spec.h"
#include "common/status.h"
#include "log/log.h"
#include "rollup/metric_definition.h"
#include "store/event_store.h"

namespace sluice {

struct RollupConsumerOptions {
  uint64_t batch_events = 100000;
  int batch_ms = 250;  // a partial batch waits at most this long: bounds freshness
  int idle_poll_ms = 5;
  // Metrics of every tenant: the built-ins and [[metrics]] from the config file.
  std::vector<MetricSpec> global_metrics = BuiltinMetrics();
  int64_t backfill_chunk_us = 3600LL * 1000 * 1000;  // first backfill chunk (event time)
};

// The consumer's options from the configuration ([rollup], [[metrics]]).
RollupConsumerOptions RollupOptionsFromConfig(const Config& config);

class RollupConsumer {
 public:
  static constexpr const char* kName = "rollup";
  RollupConsumer(Log* log, EventStore* store, RollupConsumerOptions options);
  ~RollupConsumer();  // Stop()s
  RollupConsumer(const RollupConsumer&) = delete;
  RollupConsumer& operator=(const RollupConsumer&) = delete;

  // Reconciles definitions, then tails the log on a background thread.
  Status Start();
  void Stop();
  // Foreground alternative to Start(): applies every durable record and finishes every
  // backfill (offline commands and tests). The store must hold what the log holds.
  Status RunUntilCaughtUp();

  uint64_t applied_offset() const { return applied_.load(std::memory_order_acquire); }
  uint64_t events_applied() const { return events_.load(std::memory_order_relaxed); }

  // The definitions `tenant` sees: every-tenant metrics and its own.
  std::vector<MetricDefinition> Definitions(const std::string& tenant) const;
  std::optional<MetricSpec> Find(const std::string& tenant, const std::string& name) const;
  // Defines a metric for `tenant` and starts its backfill. InvalidArgument for an invalid
  // spec or a name already in use.
  Result<MetricDefinition> Define(const std::string& tenant, const MetricSpec& spec);
  // Deletes a tenant's metric and its rollups. NotFound / InvalidArgument (config metric).
  Status Drop(const std::string& tenant, const std::string& name);

  // Bumped whenever a commit changes a window of (tenant, metric) that had already
  // closed by then; the query cache keeps a result only while this is unchanged.
  uint64_t Generation(const std::string& tenant, const std::string& metric) const;

  // Test hook run before each batch COMMIT; a non-OK status aborts the batch (and a hook
  // may _exit to simulate a crash).
  void SetBeforeCommitHookForTest(std::function<Status()> hook) {
    before_commit_ = std::move(hook);
  }
  // Crash tests of the real binary: with SLUICE_TEST_ROLLUP_EXIT_BEFORE_COMMIT=N set, the
  // process _exits (as kill -9 would stop it) inside its Nth rollup transaction, after
  // the rows are written and before COMMIT.
  void InstallCrashHookFromEnv();

 private:
  Status Init();
  Status ReconcileGlobalMetrics();
  Status Step(bool wait_for_more, bool* idle);
  // One backfill chunk of the first unfinished definition; *did_work false when none.
  Status BackfillStep(bool* did_work);
  Status Commit(const CellMap& minutes, const MetricDefinition* progress, uint64_t new_offset);
  void BumpGenerations(const CellMap& minutes, bool all_closed);
  std::vector<ActiveMetric> ActiveMetrics() const;
  // Runs fn on the consumer thread (or here when no thread runs) and returns its status.
  Status RunOnConsumerThread(std::function<Status()> fn);
  void RunPendingTasks();
  void Loop();
  void SleepFor(int ms);

  Log* const log_;
  EventStore* const store_;
  const RollupConsumerOptions options_;
  duck::Connection con_;  // the consumer thread's
  std::unique_ptr<LogReader> reader_;
  uint64_t offset_ = 0;
  bool initialized_ = false;
  int64_t backfill_width_us_ = options_.backfill_chunk_us;  // adapts to event density
  std::function<Status()> before_commit_;
  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> events_{0};

  mutable std::mutex defs_mu_;
  std::vector<MetricDefinition> defs_;                     // written by the consumer thread only
  std::unordered_map<std::string, uint64_t> generations_;  // tenant '\0' metric

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace sluice
