// search_bench: latency of GET /v1/events searches (query/event_search.h) over a store of
// 10M events, per search shape, as p50/p99 milliseconds.
//
// The store is filled the way the store consumer fills it: ~230-byte events in ts order
// (14 days ending now), appended in batches of 100k rows with their log offset; then the
// complete days are projected by user, as serve's archive pass does. 8 types
// (skewed: page_view is half), 100k users, properties with a handful of keys. Filling
// takes minutes on a small machine, so --db keeps the file for later runs (it is reused
// when it already holds the requested number of events).
//
// Each search runs in-process (no HTTP), on its own connection and snapshot like the
// server's, and includes building the JSON page. --explain "SQL" prints DuckDB's
// EXPLAIN ANALYZE of SQL in which {events} stands for the tenant's events view: the tool
// used to look at the plans described in bench/README.md ("RAW SQL" prints the first
// VARCHAR column of SQL's result instead).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "query/event_search.h"
#include "store/event_store.h"

namespace sluice {
namespace {

constexpr const char* kTenant = "default";
constexpr int kUsers = 100000;
constexpr int64_t kSpanUs = 14LL * 24 * 3600 * 1000000;
const char* const kTypes[] = {"page_view",   "click",    "track",  "identify",
                              "add_to_cart", "purchase", "signup", "error"};
// Percent of events of each type above.
const int kTypeWeights[] = {50, 20, 10, 8, 6, 3, 2, 1};
const char* const kPlans[] = {"free", "pro", "team", "enterprise"};
const char* const kCountries[] = {"DE", "FR", "US", "GB", "IN", "BR", "JP", "NL", "ES", "IT"};

struct Args {
  std::string db;
  bool keep = false;
  int64_t events = 10000000;
  int searches = 200;
  std::string explain;
  bool compare_unsliced = true;
  bool fill_only = false;  // fill (or reuse) --db and exit: bench/query_ratio.sh serves it
  // Off: the store opens without the user projection (and drops one --db holds), for the
  // user_id shape's before/after.
  bool user_projection = true;
};

std::string UuidLike(std::mt19937_64& rng, int64_t ts_us) {
  // UUIDv7-shaped: time-ordered prefix, random tail, 36 characters.
  const uint64_t ms = static_cast<uint64_t>(ts_us / 1000);
  const uint64_t r1 = rng(), r2 = rng();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-7%03llx-%04llx-%012llx",
                static_cast<unsigned long long>(ms >> 16),
                static_cast<unsigned long long>(ms & 0xffff),
                static_cast<unsigned long long>(r1 & 0xfff),
                static_cast<unsigned long long>(0x8000 | ((r1 >> 12) & 0x3fff)),
                static_cast<unsigned long long>(r2 & 0xffffffffffffULL));
  return buf;
}

Event MakeEvent(std::mt19937_64& rng, int64_t ts_us, uint64_t offset) {
  Event e;
  e.tenant = kTenant;
  e.event_id = UuidLike(rng, ts_us);
  int pick = static_cast<int>(rng() % 100), t = 0;
  while (pick >= kTypeWeights[t]) pick -= kTypeWeights[t++];
  e.type = kTypes[t];
  e.ts_us = ts_us;
  e.received_at_us = ts_us + static_cast<int64_t>(rng() % 2000000);
  e.user_id = "user-" + std::to_string(rng() % kUsers);
  if (rng() % 4 == 0) e.anonymous_id = UuidLike(rng, ts_us);
  e.properties = std::string(R"({"path":"/products/item-)") + std::to_string(rng() % 50000) +
                 R"(","plan":")" + kPlans[rng() % 4] + R"(","country":")" + kCountries[rng() % 10] +
                 R"(","price":)" + std::to_string(rng() % 200) +
                 ".99,\"qty\":" + std::to_string(1 + rng() % 5) + "}";
  e.context = R"({"ip":"10.)" + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) +
              R"(.1","library":"analytics.js"})";
  e.source = "http";
  e.log_offset = offset;
  return e;
}

Status Fill(EventStore& store, int64_t n, int64_t end_us) {
  std::mt19937_64 rng(42);
  const int64_t start_us = end_us - kSpanUs;
  const int64_t batch = 100000;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Event> events;
  for (int64_t i = 0; i < n;) {
    events.clear();
    for (int64_t j = 0; j < batch && i < n; ++j, ++i) {
      // Evenly spread in ts order, with the jitter of a log: up to a second out of order.
      const int64_t ts = start_us + (kSpanUs / n) * i + static_cast<int64_t>(rng() % 1000000);
      events.push_back(MakeEvent(rng, ts, static_cast<uint64_t>(i + 1)));
    }
    SLUICE_RETURN_IF_ERROR(store.AppendBatch(events, "store", static_cast<uint64_t>(i)));
    if (i % 1000000 == 0) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::fprintf(stderr, "fill: %lld events, %.0f s\n", static_cast<long long>(i), s);
    }
  }
  return Status::OK();
}

struct Shape {
  std::string name;
  std::function<EventSearchRequest(std::mt19937_64&)> make;
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

int Run(const Args& args) {
  std::string dir;
  std::string db = args.db;
  if (db.empty()) {
    char tmpl[] = "/tmp/sluice-search-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    db = dir + "/sluice.duckdb";
  }
  EventStoreOptions options;
  options.user_projection = args.user_projection;
  auto opened = EventStore::Open(db, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  EventStore& store = **opened;
  auto count = store.CountEvents(kTenant);
  if (!count.ok()) return 1;
  if (static_cast<int64_t>(*count) != args.events) {
    if (*count != 0) {
      std::fprintf(stderr, "%s holds %llu events, not %lld; use another --db\n", db.c_str(),
                   static_cast<unsigned long long>(*count), static_cast<long long>(args.events));
      return 1;
    }
    Status s = Fill(store, args.events, NowMicros());
    if (!s.ok()) {
      std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
      return 1;
    }
    (void)store.Execute("CHECKPOINT");
  }
  {
    // What serve's archive pass does a day at a time (store/user_projection.h): the days
    // that ended over an hour ago, sorted by user, for the user_id shape.
    const auto t0 = std::chrono::steady_clock::now();
    int days = 0;
    while (true) {
      auto moved = store.ProjectNextDay(NowMicros(), 3600ll * 1000000);
      if (!moved.ok()) {
        std::fprintf(stderr, "user projection: %s\n", moved.status().ToString().c_str());
        return 1;
      }
      if (!*moved) break;
      ++days;
    }
    if (days > 0) {
      (void)store.Execute("CHECKPOINT");
      std::printf("user projection: %d day(s) in %.1f s\n", days,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  if (args.fill_only) {
    std::printf("{\"events\":%lld}\n", static_cast<long long>(args.events));
    return 0;
  }
  // The data's time range, for cursors and windows inside it.
  int64_t lo_us = 0, hi_us = 0;
  Status s = store.WithEventsView(kTenant, [&](duck::Connection& con, const std::string& view) {
    auto r = con.Query("SELECT epoch_us(min(ts))::UBIGINT, epoch_us(max(ts))::UBIGINT FROM (" +
                       view + ")");
    if (!r.ok()) return r.status();
    Status st;
    auto chunk = r->FetchChunk(&st);
    if (!st.ok() || !chunk) return Status::Internal("no range");
    lo_us =
        static_cast<int64_t>(static_cast<uint64_t*>(duckdb_vector_get_data(chunk.column(0)))[0]);
    hi_us =
        static_cast<int64_t>(static_cast<uint64_t*>(duckdb_vector_get_data(chunk.column(1)))[0]);
    return Status::OK();
  });
  if (!s.ok()) {
    std::fprintf(stderr, "range: %s\n", s.ToString().c_str());
    return 1;
  }

  if (!args.explain.empty()) {
    s = store.WithEventsView(kTenant, [&](duck::Connection& con, const std::string& view) {
      std::string sql = args.explain;
      for (size_t p; (p = sql.find("{events}")) != std::string::npos;) {
        sql.replace(p, 8, "(" + view + ")");
      }
      auto t0 = std::chrono::steady_clock::now();
      const bool plain = sql.rfind("RAW ", 0) == 0;  // print the result's first column
      auto r = con.Query(plain ? sql.substr(4) : "EXPLAIN ANALYZE " + sql);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) return r.status();
      Status st;
      while (auto chunk = r->FetchChunk(&st)) {
        for (idx_t row = 0; row < chunk.size(); ++row) {
          std::printf("%s\n",
                      std::string(duck::GetString(chunk.column(plain ? 0 : 1), row)).c_str());
        }
      }
      std::printf("wall: %.1f ms\n", ms);
      return st;
    });
    if (!s.ok()) std::fprintf(stderr, "explain: %s\n", s.ToString().c_str());
    return s.ok() ? 0 : 1;
  }

  auto uniform = [](std::mt19937_64& rng, int64_t a, int64_t b) {
    return a + static_cast<int64_t>(rng() % static_cast<uint64_t>(b - a));
  };
  auto base = [] {
    EventSearchRequest r;
    r.tenant = kTenant;
    r.limit = 100;
    return r;
  };
  std::vector<Shape> shapes = {
      {"first page", [&](std::mt19937_64&) { return base(); }},
      {"deep page (cursor at a random point)",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.after = EventCursor{uniform(rng, lo_us, hi_us), "~"};
         return r;
       }},
      {"type=<random of 8>",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.type = kTypes[rng() % 8];
         return r;
       }},
      // The first search for a type the store does not hold yet (store/type_ranges.h):
      // before the type's ts range it walked every slice back to year 1.
      {"type=<one not stored yet>",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.type = "new_type_" + std::to_string(rng() % 1000);
         return r;
       }},
      {"user_id=<random of 100k> (~100 events each)",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.user_id = "user-" + std::to_string(rng() % kUsers);
         return r;
       }},
      {"prop.plan=<random of 4>",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.properties.push_back({{"plan"}, kPlans[rng() % 4]});
         return r;
       }},
      {"type=purchase&prop.country=<random of 10>",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.type = "purchase";
         r.properties.push_back({{"country"}, kCountries[rng() % 10]});
         return r;
       }},
      {"from/to: a random 1-hour window",
       [&](std::mt19937_64& rng) {
         auto r = base();
         r.from_us = uniform(rng, lo_us, hi_us - 3600LL * 1000000);
         r.to_us = *r.from_us + 3600LL * 1000000;
         return r;
       }},
  };

  EventSearchOptions sliced;
  sliced.now_us = hi_us;  // as if the last event had just arrived
  EventSearchOptions unsliced = sliced;
  unsliced.time_slices = false;

  std::printf("| search (limit 100, %lld events) | p50 ms | p99 ms | max ms | statements |\n",
              static_cast<long long>(args.events));
  std::printf("|---|---|---|---|---|\n");
  auto measure = [&](const Shape& shape, const EventSearchOptions& opts, const char* suffix,
                     int n) -> bool {
    std::mt19937_64 rng(7);
    std::vector<double> ms;
    double statements = 0;
    for (int i = 0; i < n; ++i) {
      EventSearchRequest req = shape.make(rng);
      auto t0 = std::chrono::steady_clock::now();
      auto page = SearchEvents(store, req, opts);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!page.ok()) {
        std::fprintf(stderr, "%s: %s\n", shape.name.c_str(), page.status().ToString().c_str());
        return false;
      }
      statements += page->statements;
    }
    std::printf("| %s%s | %.2f | %.2f | %.2f | %.1f |\n", shape.name.c_str(), suffix,
                Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0), statements / n);
    std::fflush(stdout);
    return true;
  };
  for (const Shape& shape : shapes) {
    if (!measure(shape, sliced, "", args.searches)) return 1;
  }
  // The plain one-statement Top-N, for comparison; fewer runs, it is slow.
  if (args.compare_unsliced) {
    for (const Shape& shape : shapes) {
      if (!measure(shape, unsliced, " — one statement, no slices", 20)) return 1;
    }
  }
  // Paging: follow next_cursor from the first page for `searches` pages.
  {
    std::vector<double> ms;
    EventSearchRequest req = base();
    for (int i = 0; i < args.searches; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto page = SearchEvents(store, req, sliced);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!page.ok() || !page->next_cursor) return 1;
      req.after = DecodeEventCursor(*page->next_cursor).value();
    }
    std::printf("| next_cursor, pages 1-%d in sequence | %.2f | %.2f | %.2f | |\n", args.searches,
                Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0));
  }
  opened->reset();
  if (!dir.empty() && !args.keep) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  sluice::Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") {
      args.db = next();
    } else if (a == "--events") {
      args.events = std::atoll(next().c_str());
    } else if (a == "--searches") {
      args.searches = std::atoi(next().c_str());
    } else if (a == "--explain") {
      args.explain = next();
    } else if (a == "--no-compare") {
      args.compare_unsliced = false;
    } else if (a == "--fill-only") {
      args.fill_only = args.keep = true;
    } else if (a == "--no-user-projection") {
      args.user_projection = false;
    } else {
      std::fprintf(stderr,
                   "usage: search_bench [--db FILE] [--events N] [--searches N] "
                   "[--no-compare] [--fill-only] [--no-user-projection] "
                   "[--explain SQL-with-{events}]\n");
      return 2;
    }
  }
  return sluice::Run(args);
}
