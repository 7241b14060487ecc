// store_bench: how fast the store consumer (store/store_consumer.h) turns log records into
// DuckDB rows, alone, for a given batch size and DuckDB thread count — the knobs behind
// the end-to-end rate of issue 3 (pushed -> queryable).
//
// Usage: store_bench [EVENTS] [BATCH_EVENTS] [DUCKDB_THREADS] [DIR]
// Appends EVENTS ~230-byte events (UUIDv7-shaped ids, 100k users, a few properties, as
// `sluice bench` sends them) to a real log with fsync off, then times
// StoreConsumer::RunUntilCaughtUp. Prints one JSON line with rows/s by wall clock and by
// process CPU time (user + system, every thread): on this shared 2-core machine the CPU
// figure is the steadier one to compare configurations by.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "common/clock.h"
#include "ingest/event_codec.h"
#include "log/log.h"
#include "store/event_store.h"
#include "store/store_consumer.h"

using namespace sluice;

namespace {

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "store_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t events = argc > 1 ? std::stoull(argv[1]) : 2000000;
  const uint64_t batch = argc > 2 ? std::stoull(argv[2]) : StoreConsumerOptions().batch_events;
  const int threads = argc > 3 ? std::stoi(argv[3]) : 0;
  const std::string dir = argc > 4 ? argv[4] : "/tmp/sluice-store-bench";
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
  so.threads = threads;
  auto store = EventStore::Open(dir + "/sluice.duckdb", so);
  Check(store.status(), "open store");
  if (const char* extra = std::getenv("STORE_BENCH_SQL")) Check((*store)->Execute(extra), extra);
  StoreConsumerOptions sco;
  sco.batch_events = batch;
  StoreConsumer consumer((*log).get(), (*store).get(), sco);
  Check(consumer.RunUntilCaughtUp(), "register");

  static const char* types[] = {"page_view", "click", "track", "identify", "purchase"};
  static const char* paths[] = {"/", "/pricing", "/docs", "/blog", "/signup", "/checkout"};
  static const char* plans[] = {"free", "pro", "team", "enterprise"};
  std::mt19937_64 rng(7);
  const int64_t now = NowMicros();
  const char* per_record_env = std::getenv("STORE_BENCH_RECORD_EVENTS");
  const uint64_t per_record = per_record_env != nullptr ? std::stoull(per_record_env) : 500;
  uint64_t since_durable = 0;
  for (uint64_t i = 0; i < events;) {
    EventBatchWriter w;
    for (uint64_t k = 0; k < per_record && i < events; ++k, ++i) {
      Event e;
      e.tenant = "default";
      const int64_t ts = now - static_cast<int64_t>(events - i) * 100;
      char id[40];
      const uint64_t r = rng();
      std::snprintf(id, sizeof id, "%08llx-%04llx-7%03llx-%04llx-%012llx",
                    static_cast<unsigned long long>((ts / 1000) >> 16),
                    static_cast<unsigned long long>((ts / 1000) & 0xffff),
                    static_cast<unsigned long long>(r & 0xfff),
                    static_cast<unsigned long long>(0x8000 | ((r >> 12) & 0x3fff)),
                    static_cast<unsigned long long>((r >> 26) & 0xffffffffffffull));
      e.event_id = id;
      e.type = types[rng() % 5];
      e.ts_us = ts;
      e.received_at_us = ts + 1500;
      e.user_id = "user-" + std::to_string(rng() % 100000);
      e.properties = std::string("{\"path\":\"") + paths[rng() % 6] + "\",\"plan\":\"" +
                     plans[rng() % 4] + "\",\"value\":" + std::to_string(rng() % 10000) +
                     ",\"session\":\"s-" + std::to_string(rng() % 1000000) + "\",\"pad\":\"" +
                     std::string(48 + rng() % 16, 'a' + rng() % 26) + "\"}";
      e.source = "http";
      w.Add(e);
    }
    auto off = (*log)->Append(RecordType::kEventBatch, w.Finish());
    Check(off.status(), "append");
    if ((since_durable += per_record) >= 100000) {  // bounded pending tail
      Check((*log)->WaitDurable(*off), "durable");
      since_durable = 0;
    }
  }
  Check((*log)->WaitDurable((*log)->end_offset()), "durable");

  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  Check(consumer.RunUntilCaughtUp(), "store consumer");
  Check((*store)->Execute("CHECKPOINT"), "checkpoint");  // what the WAL deferred is paid here
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  const double bytes = static_cast<double>(std::filesystem::file_size(dir + "/sluice.duckdb"));
  std::printf(
      "{\"events\":%llu,\"batch_events\":%llu,\"threads\":%d,\"wall_s\":%.3f,\"cpu_s\":%.3f,"
      "\"rows_per_s\":%.0f,\"rows_per_cpu_s\":%.0f,\"db_bytes_per_row\":%.1f}\n",
      static_cast<unsigned long long>(events), static_cast<unsigned long long>(batch), threads,
      wall, cpu, events / wall, events / cpu, bytes / events);
  store->reset();
  log->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
