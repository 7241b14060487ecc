// The anchor `make bench` compares sluice against: DuckDB 1.4.4 (the same library sluice
// embeds) loading the same NDJSON file into a table with read_ndjson, timed end to end.
// With a database path the load goes to a file and includes the CHECKPOINT that makes it
// durable (sluice's acks are durable); without one it is in memory.
#include <duckdb.h>

#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: duckdb_anchor FILE.ndjson [threads] [DB_PATH]\n");
    return 2;
  }
  duckdb_database db;
  duckdb_connection con;
  const char* db_path = argc > 3 ? argv[3] : nullptr;
  if (duckdb_open(db_path, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_anchor: cannot open DuckDB\n");
    return 1;
  }
  duckdb_result res;
  std::string threads = argc > 2 ? argv[2] : "2";
  duckdb_query(con, ("SET threads=" + threads).c_str(), nullptr);
  std::string sql = std::string("CREATE TABLE events AS SELECT * FROM read_ndjson('") + argv[1] +
                    "', format='newline_delimited')";
  auto t0 = std::chrono::steady_clock::now();
  if (duckdb_query(con, sql.c_str(), &res) != DuckDBSuccess) {
    std::fprintf(stderr, "duckdb_anchor: %s\n", duckdb_result_error(&res));
    return 1;
  }
  duckdb_destroy_result(&res);
  if (db_path) duckdb_query(con, "CHECKPOINT", nullptr);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  duckdb_query(con, "SELECT count(*) FROM events", &res);
  int64_t rows = duckdb_value_int64(&res, 0, 0);
  duckdb_destroy_result(&res);
  std::printf("{\"rows\":%lld,\"seconds\":%.3f,\"rows_per_s\":%.0f}\n",
              static_cast<long long>(rows), secs, static_cast<double>(rows) / secs);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return 0;
}
