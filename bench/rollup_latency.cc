// rollup_bench: what the rollups cost and buy (bench/README.md, "Rollups").
//
// Generates EVENTS events spread evenly over 7 days (12 types, 100K users, a plan and an
// amount property), appends them to a real log (fsync off: this measures the consumers,
// not the disk) and runs the real store and rollup consumers over them, so rollup rows
// and raw rows come from the same events. Then, side by side on the same database:
//   - the rollup consumer's throughput alone (events/s folded and committed);
//   - GET /v1/metrics' work for a 7-day hourly series of `events` grouped by type
//     (MetricReader with the cache off, and a cache hit), p50/p99 over many runs;
//   - the same aggregate as SQL over the raw events (the tiered `events` view), p50/p99;
//   - storage: rollup tables vs raw events, each copied into a fresh DuckDB file.
// Prints one JSON object. Usage: rollup_bench [EVENTS] [DIR]
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "ingest/event_codec.h"
#include "log/log.h"
#include "rollup/metric_reader.h"
#include "rollup/rollup_consumer.h"
#include "store/event_store.h"
#include "store/store_consumer.h"

using namespace sluice;

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "rollup_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

uint64_t FileBytes(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t events = argc > 1 ? std::stoull(argv[1]) : 10000000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp/sluice-rollup-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  LogOptions lo;
  lo.dir = dir + "/log";
  lo.fsync = false;
  lo.segment_bytes = 64ull << 20;
  RecoveryReport report;
  auto log = Log::Open(lo, &report);
  Check(log.status(), "open log");
  EventStoreOptions so;
  so.threads = 2;
  auto store = EventStore::Open(dir + "/sluice.duckdb", so);
  Check(store.status(), "open store");
  StoreConsumerOptions sco;
  StoreConsumer store_consumer((*log).get(), (*store).get(), sco);
  RollupConsumerOptions ro;
  RollupConsumer rollups((*log).get(), (*store).get(), ro);

  // Register both consumers before any record exists, so the log keeps every segment until
  // both have passed it and the rollups take every event live (nothing to backfill).
  Check(store_consumer.RunUntilCaughtUp(), "store consumer");
  Check(rollups.RunUntilCaughtUp(), "rollup consumer");

  const int64_t week = 7 * 24 * kHourUs;
  const int64_t end_us = FloorTo(NowMicros(), kHourUs) - kHourUs;  // all windows closed
  const int64_t start_us = end_us - week;
  static const char* plans[] = {"free", "pro", "team", "enterprise"};
  std::mt19937_64 rng(1);
  double store_secs = 0, rollup_secs = 0;
  const uint64_t chunk = 1000000;  // generate, then drain both consumers: bounded log on disk
  for (uint64_t done = 0; done < events;) {
    const uint64_t n = std::min(chunk, events - done);
    for (uint64_t i = 0; i < n;) {
      EventBatchWriter w;
      for (int k = 0; k < 5000 && i < n; ++k, ++i) {
        const uint64_t seq = done + i;
        Event e;
        e.tenant = "default";
        e.event_id = "b" + std::to_string(seq);
        e.type = "type_" + std::to_string(rng() % 12);
        e.ts_us = start_us + static_cast<int64_t>(seq * (week / events)) +
                  static_cast<int64_t>(rng() % 1000000);
        e.received_at_us = e.ts_us;
        e.user_id = "user-" + std::to_string(rng() % 100000);
        e.properties = std::string("{\"plan\":\"") + plans[rng() % 4] +
                       "\",\"amount\":" + std::to_string(rng() % 100000 / 100.0) + "}";
        e.source = "http";
        w.Add(e);
      }
      auto off = (*log)->Append(RecordType::kEventBatch, w.Finish());
      Check(off.status(), "append");
    }
    Check((*log)->WaitDurable((*log)->end_offset()), "durable");
    auto t0 = std::chrono::steady_clock::now();
    Check(store_consumer.RunUntilCaughtUp(), "store consumer");
    store_secs += Seconds(t0);
    t0 = std::chrono::steady_clock::now();
    Check(rollups.RunUntilCaughtUp(), "rollup consumer");
    rollup_secs += Seconds(t0);
    done += n;
    std::fprintf(stderr, "rollup_bench: %llu/%llu events (store %.1f s, rollups %.1f s)\n",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(events),
                 store_secs, rollup_secs);
  }
  Check((*store)->Execute("CHECKPOINT"), "checkpoint");

  // The metric query as the server runs it, cache off (every run reads the rollups).
  QueryParams params = {{"granularity", "1h"},
                        {"group_by", "type"},
                        {"from", std::to_string(start_us / 1000000)},
                        {"to", std::to_string(end_us / 1000000)}};
  MetricReader uncached((*store).get(), &rollups, 10000, 0);
  std::vector<double> metric_ms;
  size_t points = 0, groups = 0;
  for (int i = 0; i < 300; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = uncached.Query("default", "events", params);
    metric_ms.push_back(Seconds(t0) * 1000);
    Check(r.status(), "metric query");
    groups = r->result->series.size();
    points = groups ? r->result->series[0].cells.size() : 0;
  }
  MetricReader cached((*store).get(), &rollups, 10000, 16);
  std::vector<double> cached_ms;
  for (int i = 0; i < 300; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = cached.Query("default", "events", params);
    cached_ms.push_back(Seconds(t0) * 1000);
    Check(r.status(), "cached metric query");
  }

  // The same aggregate over the raw events.
  std::vector<double> sql_ms;
  const std::string where = " WHERE ts >= make_timestamp(" + std::to_string(start_us) +
                            ") AND ts < make_timestamp(" + std::to_string(end_us) + ")";
  for (int i = 0; i < 15; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    Check((*store)->WithEventsView(
              "default",
              [&](duck::Connection& con, const std::string& view) -> Status {
                auto r = con.Query("SELECT type, date_trunc('hour', ts) AS h, count(*) FROM (" +
                                   view + ")" + where + " GROUP BY ALL");
                if (!r.ok()) return r.status();
                Status st;
                while (r->FetchChunk(&st)) {
                }
                return st;
              }),
          "raw sql");
    sql_ms.push_back(Seconds(t0) * 1000);
  }

  // Storage: each side copied into a fresh file, so both are equally compact.
  const std::string raw_file = dir + "/raw.duckdb", rollup_file = dir + "/rollup-copy.duckdb";
  Check((*store)->Execute("ATTACH '" + raw_file +
                          "' AS raw; CREATE TABLE raw.events_hot AS "
                          "SELECT * FROM events_hot; DETACH raw; ATTACH '" +
                          rollup_file +
                          "' AS r; CREATE TABLE r.rollup_1m AS SELECT * FROM rollups.rollup_1m; "
                          "CREATE TABLE r.rollup_1h AS SELECT * FROM rollups.rollup_1h; DETACH r"),
        "copy for sizes");
  const uint64_t raw_bytes = FileBytes(raw_file), rollup_bytes = FileBytes(rollup_file);

  std::printf(
      "{\"events\":%llu,\"store_events_per_s\":%.0f,\"rollup_events_per_s\":%.0f,"
      "\"series_groups\":%zu,\"series_points\":%zu,"
      "\"metric_p50_ms\":%.3f,\"metric_p99_ms\":%.3f,\"metric_cached_p50_ms\":%.4f,"
      "\"metric_cached_p99_ms\":%.4f,\"raw_sql_p50_ms\":%.1f,\"raw_sql_p99_ms\":%.1f,"
      "\"speedup_p50\":%.1f,\"speedup_p99\":%.1f,\"raw_bytes\":%llu,\"rollup_bytes\":%llu,"
      "\"rollup_storage_ratio\":%.5f}\n",
      static_cast<unsigned long long>(events), events / store_secs, events / rollup_secs, groups,
      points, Percentile(metric_ms, 0.5), Percentile(metric_ms, 0.99), Percentile(cached_ms, 0.5),
      Percentile(cached_ms, 0.99), Percentile(sql_ms, 0.5), Percentile(sql_ms, 0.99),
      Percentile(sql_ms, 0.5) / Percentile(metric_ms, 0.5),
      Percentile(sql_ms, 0.99) / Percentile(metric_ms, 0.99),
      static_cast<unsigned long long>(raw_bytes), static_cast<unsigned long long>(rollup_bytes),
      static_cast<double>(rollup_bytes) / static_cast<double>(raw_bytes));
  rollups.Stop();
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
