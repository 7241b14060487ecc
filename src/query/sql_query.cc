// RunSqlQuery (sql_query.h): guard, then one streaming SELECT on the tenant's view under a
// watchdog.
#include "query/sql_query.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "query/sql_guard.h"

namespace sluice {

namespace {

using Clock = std::chrono::steady_clock;

// Interrupts the watched connection once the deadline passes. DuckDB clears a pending
// interrupt when the next statement starts, so one that lands between two statements
// would be lost: after the deadline the watchdog repeats it until it is told to stop.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds limit)
      : deadline_(Clock::now() + limit), thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // The connection is interrupted only while watched; Unwatch before it is closed.
  void Watch(duckdb_connection con) {
    std::lock_guard<std::mutex> lock(mu_);
    con_ = con;
  }
  void Unwatch() {
    std::lock_guard<std::mutex> lock(mu_);
    con_ = nullptr;
  }
  bool fired() const { return fired_.load(); }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, deadline_, [this] { return done_; })) return;
    fired_.store(true);
    while (!done_) {
      if (con_ != nullptr) duckdb_interrupt(con_);
      cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; });
    }
  }

  const Clock::time_point deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  duckdb_connection con_ = nullptr;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: starts once the rest is ready
};

// DuckDB's message on one line: its first line, plus the candidate columns of a binder
// error; no "LINE 1: ..." excerpt and no "Did you mean" table suggestions (they name
// internal relations).
std::string OneLine(const char* message) {
  std::string_view m = message != nullptr ? message : "unknown error";
  const size_t nl = m.find('\n');
  std::string out(m.substr(0, nl));
  if (nl != std::string_view::npos) {
    std::string_view rest = m.substr(nl + 1);
    if (rest.rfind("Candidate bindings:", 0) == 0) {
      out += " ";
      out += rest.substr(0, rest.find('\n'));
    }
  }
  return out;
}

class QueryErrors {
 public:
  QueryErrors(const Watchdog& watchdog, const SqlQueryLimits& limits)
      : watchdog_(watchdog), limits_(limits) {}

  Status From(duckdb_error_type type, const char* message) const {
    if (watchdog_.fired() || type == DUCKDB_ERROR_INTERRUPT) return Timeout();
    if (type == DUCKDB_ERROR_OUT_OF_MEMORY) {
      return Status::ResourceExhausted(
          limits_.memory_limit_bytes > 0
              ? fmt::format("the query needs more memory than the store may use ({} MiB, [store] "
                            "memory_limit_bytes); narrow it with WHERE, LIMIT or fewer columns",
                            limits_.memory_limit_bytes >> 20)
              : std::string("the query needs more memory than the store may use ([store] "
                            "memory_limit_bytes); narrow it with WHERE, LIMIT or fewer columns"));
    }
    if (type == DUCKDB_ERROR_PERMISSION) {
      return Status::InvalidArgument("not allowed: " + OneLine(message));
    }
    return Status::InvalidArgument(OneLine(message));
  }
  Status Timeout() const {
    return Status::DeadlineExceeded(fmt::format(
        "the query exceeded the time limit of {} ms ([query] timeout_ms)", limits_.timeout_ms));
  }

 private:
  const Watchdog& watchdog_;
  const SqlQueryLimits& limits_;
};

struct PreparedHandle {
  duckdb_prepared_statement s = nullptr;
  ~PreparedHandle() { duckdb_destroy_prepare(&s); }
};
struct PendingHandle {
  duckdb_pending_result p = nullptr;
  ~PendingHandle() {
    if (p != nullptr) duckdb_destroy_pending(&p);
  }
};
struct ResultHandle {
  duckdb_result r{};
  bool live = false;
  ~ResultHandle() {
    if (live) duckdb_destroy_result(&r);
  }
};

// Prepares, runs and reads `sql` on `con`, where `events` is the tenant's view.
Status RunOnView(duckdb_connection con, const std::string& sql, const SqlQueryLimits& limits,
                 const QueryErrors& errors, SqlResult* out) {
  PreparedHandle stmt;
  if (duckdb_prepare(con, sql.c_str(), &stmt.s) != DuckDBSuccess) {
    return errors.From(DUCKDB_ERROR_INVALID, duckdb_prepare_error(stmt.s));
  }
  // The guard accepted only a SELECT; the statement DuckDB will run must be one too.
  if (duckdb_prepared_statement_type(stmt.s) != DUCKDB_STATEMENT_TYPE_SELECT) {
    return Status::InvalidArgument("only SELECT queries are allowed");
  }
  PendingHandle pending;
  if (duckdb_pending_prepared_streaming(stmt.s, &pending.p) != DuckDBSuccess) {
    return errors.From(DUCKDB_ERROR_INVALID, duckdb_pending_error(pending.p));
  }
  ResultHandle result;
  const duckdb_state st = duckdb_execute_pending(pending.p, &result.r);
  result.live = true;
  if (st != DuckDBSuccess) {
    return errors.From(duckdb_result_error_type(&result.r), duckdb_result_error(&result.r));
  }

  const idx_t ncols = duckdb_column_count(&result.r);
  std::vector<ColumnReader> readers;
  for (idx_t c = 0; c < ncols; ++c) {
    const char* name = duckdb_column_name(&result.r, c);
    duckdb_logical_type lt = duckdb_column_logical_type(&result.r, c);
    auto reader = ColumnReader::Make(lt, name != nullptr ? name : "");
    duckdb_destroy_logical_type(&lt);
    if (!reader.ok()) return reader.status();
    out->columns.push_back({name != nullptr ? name : "", reader->type_name()});
    readers.push_back(std::move(*reader));
  }

  while (true) {
    duck::DataChunk chunk(duckdb_fetch_chunk(result.r));
    if (!chunk) {
      const char* err = duckdb_result_error(&result.r);
      if (err != nullptr && *err != '\0') {
        return errors.From(duckdb_result_error_type(&result.r), err);
      }
      return Status::OK();
    }
    const idx_t n = chunk.size();
    if (n == 0) return Status::OK();
    if (out->rows.size() >= limits.max_rows) {  // a row past the cap exists
      out->truncated = true;
      return Status::OK();
    }
    const idx_t take = std::min<uint64_t>(n, limits.max_rows - out->rows.size());
    std::vector<duckdb_vector> vectors(ncols);
    for (idx_t c = 0; c < ncols; ++c) vectors[c] = chunk.column(c);
    for (idx_t row = 0; row < take; ++row) {
      auto& cells = out->rows.emplace_back();
      cells.reserve(ncols);
      for (idx_t c = 0; c < ncols; ++c) cells.push_back(readers[c].Read(vectors[c], row));
    }
    if (take < n) {
      out->truncated = true;
      return Status::OK();
    }
  }
}

}  // namespace

Result<SqlResult> RunSqlQuery(EventStore& store, const std::string& tenant, const std::string& sql,
                              const SqlQueryLimits& limits) {
  const auto start = Clock::now();
  if (tenant.empty()) return Status::InvalidArgument("a query needs a tenant");
  Watchdog watchdog(std::chrono::milliseconds(limits.timeout_ms));
  QueryErrors errors(watchdog, limits);
  {
    // Parsing and catalog look-ups happen outside the query's transaction: a failed
    // look-up would abort it.
    auto con = duck::Connection::Open(store.db());
    if (!con.ok()) return con.status();
    SLUICE_RETURN_IF_ERROR(CheckQuerySql(*con, sql));
  }
  SqlResult result;
  result.max_rows = limits.max_rows;
  Status s = store.WithEventsView(
      tenant, [&](duck::Connection& con, const std::string& view_sql) -> Status {
        watchdog.Watch(con.get());
        Status st = con.Exec(std::string("CREATE TEMP VIEW ") + kQueryViewName + " AS " + view_sql);
        if (st.ok()) st = RunOnView(con.get(), sql, limits, errors, &result);
        watchdog.Unwatch();
        return st;
      });
  if (!s.ok()) {
    return watchdog.fired() && s.code() != Status::Code::kInvalidArgument ? errors.Timeout() : s;
  }
  result.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return result;
}

}  // namespace sluice
