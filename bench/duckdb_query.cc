// The anchor for SQL over stored events (bench/query_ratio.sh): the same DuckDB 1.4.4
// that sluice embeds, opened read-only on a sluice data directory's database file, runs
// one SQL statement RUNS times on one connection and prints p50/p99/min in milliseconds.
// Each run fetches the whole result, as an HTTP answer would need it.
#include <duckdb.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: duckdb_query DB_PATH SQL RUNS [threads]\n");
    return 2;
  }
  duckdb_config config;
  duckdb_create_config(&config);
  // DUCKDB_QUERY_WRITE=1 opens read-write: for experiments on a copy (bench/README.md).
  const char* write = std::getenv("DUCKDB_QUERY_WRITE");
  duckdb_set_config(config, "access_mode", write && *write == '1' ? "READ_WRITE" : "READ_ONLY");
  duckdb_set_config(config, "threads", argc > 4 ? argv[4] : "2");
  duckdb_database db;
  duckdb_connection con;
  char* err = nullptr;
  if (duckdb_open_ext(argv[1], &db, config, &err) != DuckDBSuccess ||
      duckdb_connect(db, &con) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_query: cannot open %s: %s\n", argv[1], err ? err : "");
    return 1;
  }
  duckdb_destroy_config(&config);
  const int runs = std::max(1, std::atoi(argv[3]));
  std::vector<double> ms;
  idx_t rows = 0;
  for (int i = 0; i < runs; ++i) {
    duckdb_result res;
    const auto t0 = std::chrono::steady_clock::now();
    if (duckdb_query(con, argv[2], &res) != DuckDBSuccess) {
      std::fprintf(stderr, "duckdb_query: %s\n", duckdb_result_error(&res));
      return 1;
    }
    rows = 0;
    while (true) {
      duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
      if (!chunk) break;
      rows += duckdb_data_chunk_get_size(chunk);
      duckdb_destroy_data_chunk(&chunk);
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    duckdb_destroy_result(&res);
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, size_t(p * ms.size()))]; };
  std::printf("{\"runs\":%d,\"rows\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"min_ms\":%.3f}\n", runs,
              static_cast<unsigned long long>(rows), pct(0.5), pct(0.99), ms.front());
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return 0;
}
