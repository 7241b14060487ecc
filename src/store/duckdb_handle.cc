// RAII wrappers over the DuckDB C API (duckdb_handle.h): every handle freed once, on every
// path, and DuckDB's error text carried in the Status.
#include "store/duckdb_handle.h"

#include <sched.h>
#include <time.h>

#include <algorithm>

namespace sluice::duck {

namespace {

Status ErrorFrom(std::string_view what, const char* detail) {
  std::string m = "duckdb: ";
  m.append(what);
  m.append(": ");
  m.append(detail != nullptr ? detail : "unknown error");
  return Status::Internal(std::move(m));
}

// Runs a pending result to its end and hands over the result, or the error.
//
// Why not duckdb_execute_pending alone: its loop (PendingQueryResult::ExecuteInternal) calls
// ExecuteTask again at once when DuckDB's worker threads hold the query's remaining tasks, so
// the calling thread spins at 100% until they finish. On a 2-core machine that spin takes
// the core from the HTTP threads and from the other consumer: it was ~4% of serve's CPU
// under load (perf, 2026-12-01). Here the caller yields, then sleeps in short steps, while
// it has nothing to run; a task it can run still runs at once.
Result<QueryResult> FinishPending(duckdb_pending_result pending, std::string_view what) {
  int idle = 0;
  while (true) {
    const duckdb_pending_state state = duckdb_pending_execute_task(pending);
    if (state == DUCKDB_PENDING_RESULT_READY) break;
    if (state == DUCKDB_PENDING_ERROR) {
      Status s = ErrorFrom(what, duckdb_pending_error(pending));
      duckdb_destroy_pending(&pending);
      return s;
    }
    if (state != DUCKDB_PENDING_NO_TASKS_AVAILABLE) {
      idle = 0;
      continue;
    }
    if (++idle <= 4) {
      sched_yield();
    } else {
      const timespec step{0, std::min(idle - 4, 20) * 10 * 1000L};  // 10 µs .. 200 µs
      nanosleep(&step, nullptr);
    }
  }
  duckdb_result r;
  const duckdb_state st = duckdb_execute_pending(pending, &r);
  duckdb_destroy_pending(&pending);
  QueryResult q = QueryResult::Adopt(r);
  if (st != DuckDBSuccess) return ErrorFrom(what, duckdb_result_error(&r));
  return q;
}

}  // namespace

// ---- DataChunk ----

DataChunk& DataChunk::operator=(DataChunk&& o) noexcept {
  if (this != &o) {
    if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
    chunk_ = std::exchange(o.chunk_, nullptr);
  }
  return *this;
}

DataChunk::~DataChunk() {
  if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
}

void SetNull(duckdb_vector v, idx_t row) {
  duckdb_vector_ensure_validity_writable(v);
  duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
}

// ---- QueryResult ----

QueryResult& QueryResult::operator=(QueryResult&& o) noexcept {
  if (this != &o) {
    if (live_) duckdb_destroy_result(&result_);
    result_ = o.result_;
    live_ = std::exchange(o.live_, false);
  }
  return *this;
}

QueryResult::~QueryResult() {
  if (live_) duckdb_destroy_result(&result_);
}

QueryResult QueryResult::Adopt(duckdb_result r) {
  QueryResult q;
  q.result_ = r;
  q.live_ = true;
  return q;
}

bool QueryResult::streaming() const { return live_ && duckdb_result_is_streaming(result_); }

DataChunk QueryResult::FetchChunk(Status* status) {
  *status = Status::OK();
  if (!live_) return DataChunk();
  DataChunk chunk(duckdb_fetch_chunk(result_));
  // A null chunk means either the end or an error; only the error text tells them apart.
  if (!chunk) {
    const char* err = duckdb_result_error(&result_);
    if (err != nullptr && *err != '\0') *status = ErrorFrom("fetch", err);
    return chunk;
  }
  // Streaming results may end with an empty chunk instead of a null one.
  if (chunk.size() == 0) return DataChunk();
  return chunk;
}

template <typename T>
Result<std::optional<T>> QueryResult::FirstValue(duckdb_type type, const char* name) {
  if (duckdb_column_count(&result_) < 1 || duckdb_column_type(&result_, 0) != type) {
    return Status::InvalidArgument(std::string("duckdb: expected a ") + name + " first column");
  }
  Status st;
  DataChunk chunk = FetchChunk(&st);
  if (!st.ok()) return st;
  if (!chunk) return std::optional<T>();
  duckdb_vector v = chunk.column(0);
  if (!IsValid(v, 0)) return std::optional<T>();
  return std::optional<T>(static_cast<const T*>(duckdb_vector_get_data(v))[0]);
}

Result<std::optional<uint64_t>> QueryResult::FirstUInt64() {
  return FirstValue<uint64_t>(DUCKDB_TYPE_UBIGINT, "UBIGINT");
}

Result<std::optional<int64_t>> QueryResult::FirstInt64() {
  return FirstValue<int64_t>(DUCKDB_TYPE_BIGINT, "BIGINT");
}

// ---- PreparedStatement ----

PreparedStatement& PreparedStatement::operator=(PreparedStatement&& o) noexcept {
  if (this != &o) {
    if (stmt_ != nullptr) duckdb_destroy_prepare(&stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}

PreparedStatement::~PreparedStatement() {
  if (stmt_ != nullptr) duckdb_destroy_prepare(&stmt_);
}

Status PreparedStatement::BindVarchar(idx_t index, std::string_view value) {
  if (duckdb_bind_varchar_length(stmt_, index, value.data(), value.size()) != DuckDBSuccess) {
    return ErrorFrom("bind", duckdb_prepare_error(stmt_));
  }
  return Status::OK();
}

Status PreparedStatement::BindUInt64(idx_t index, uint64_t value) {
  if (duckdb_bind_uint64(stmt_, index, value) != DuckDBSuccess) {
    return ErrorFrom("bind", duckdb_prepare_error(stmt_));
  }
  return Status::OK();
}

Status PreparedStatement::BindInt64(idx_t index, int64_t value) {
  if (duckdb_bind_int64(stmt_, index, value) != DuckDBSuccess) {
    return ErrorFrom("bind", duckdb_prepare_error(stmt_));
  }
  return Status::OK();
}

Status PreparedStatement::BindDouble(idx_t index, double value) {
  if (duckdb_bind_double(stmt_, index, value) != DuckDBSuccess) {
    return ErrorFrom("bind", duckdb_prepare_error(stmt_));
  }
  return Status::OK();
}

Status PreparedStatement::BindTimestampMicros(idx_t index, int64_t micros) {
  duckdb_timestamp ts;
  ts.micros = micros;
  if (duckdb_bind_timestamp(stmt_, index, ts) != DuckDBSuccess) {
    return ErrorFrom("bind", duckdb_prepare_error(stmt_));
  }
  return Status::OK();
}

Result<QueryResult> PreparedStatement::Execute() {
  duckdb_pending_result pending;
  if (duckdb_pending_prepared(stmt_, &pending) != DuckDBSuccess) {
    Status s = ErrorFrom("execute", duckdb_pending_error(pending));
    duckdb_destroy_pending(&pending);
    return s;
  }
  return FinishPending(pending, "execute");
}

Result<QueryResult> PreparedStatement::ExecuteStreaming() {
  // The C API's only streaming path (marked for future replacement in 1.4): a pending
  // result executed in streaming mode, then duckdb_fetch_chunk pulls one chunk at a time.
  duckdb_pending_result pending;
  if (duckdb_pending_prepared_streaming(stmt_, &pending) != DuckDBSuccess) {
    Status s = ErrorFrom("execute", duckdb_pending_error(pending));
    duckdb_destroy_pending(&pending);
    return s;
  }
  duckdb_result r;
  const duckdb_state st = duckdb_execute_pending(pending, &r);
  duckdb_destroy_pending(&pending);
  QueryResult q = QueryResult::Adopt(r);
  if (st != DuckDBSuccess) return ErrorFrom("execute", duckdb_result_error(&r));
  return q;
}

// ---- Connection ----

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (con_ != nullptr) duckdb_disconnect(&con_);
    con_ = std::exchange(o.con_, nullptr);
  }
  return *this;
}

Connection::~Connection() {
  if (con_ != nullptr) duckdb_disconnect(&con_);
}

Result<Connection> Connection::Open(const Database& db) {
  duckdb_connection c = nullptr;
  if (duckdb_connect(db.get(), &c) != DuckDBSuccess) {
    return Status::Internal("duckdb: cannot connect");
  }
  return Connection(c);
}

Status Connection::Exec(const std::string& sql) {
  auto r = Query(sql);
  return r.ok() ? Status::OK() : r.status();
}

Result<QueryResult> Connection::Query(const std::string& sql) {
  // duckdb_query's steps, one statement at a time (the last one's result is returned), but
  // run through FinishPending instead of DuckDB's spinning loop.
  const std::string what = sql.size() <= 80 ? sql : sql.substr(0, 80) + "...";
  duckdb_extracted_statements extracted = nullptr;
  const idx_t n = duckdb_extract_statements(con_, sql.c_str(), &extracted);
  struct Extracted {
    duckdb_extracted_statements* e;
    ~Extracted() { duckdb_destroy_extracted(e); }
  } destroy_extracted{&extracted};
  if (n == 0) {
    const char* err = duckdb_extract_statements_error(extracted);
    if (err != nullptr && *err != '\0') return ErrorFrom(what, err);
    duckdb_result r;  // no statement at all: whatever duckdb_query makes of that
    const duckdb_state st = duckdb_query(con_, sql.c_str(), &r);
    QueryResult q = QueryResult::Adopt(r);
    if (st != DuckDBSuccess) return ErrorFrom(what, duckdb_result_error(&r));
    return q;
  }
  Result<QueryResult> last = Status::Internal("duckdb: no statement ran");
  for (idx_t i = 0; i < n; ++i) {
    duckdb_prepared_statement stmt = nullptr;
    const duckdb_state st = duckdb_prepare_extracted_statement(con_, extracted, i, &stmt);
    PreparedStatement prepared(stmt);  // destroyed on every path
    if (st != DuckDBSuccess) return ErrorFrom(what, duckdb_prepare_error(stmt));
    duckdb_pending_result pending;
    if (duckdb_pending_prepared(stmt, &pending) != DuckDBSuccess) {
      Status s = ErrorFrom(what, duckdb_pending_error(pending));
      duckdb_destroy_pending(&pending);
      return s;
    }
    last = FinishPending(pending, what);
    if (!last.ok()) return last.status();
  }
  return last;
}

Result<PreparedStatement> Connection::Prepare(const std::string& sql) {
  duckdb_prepared_statement s = nullptr;
  const duckdb_state st = duckdb_prepare(con_, sql.c_str(), &s);
  PreparedStatement p(s);  // destroyed on failure too, as the API requires
  if (st != DuckDBSuccess) return ErrorFrom("prepare", duckdb_prepare_error(s));
  return p;
}

// ---- Database ----

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_ != nullptr) duckdb_close(&db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Database::~Database() {
  if (db_ != nullptr) duckdb_close(&db_);
}

Result<Database> Database::Open(const std::string& path,
                                const std::vector<std::pair<std::string, std::string>>& options) {
  duckdb_config config;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return Status::Internal("duckdb: cannot create config");
  }
  for (const auto& [name, value] : options) {
    if (duckdb_set_config(config, name.c_str(), value.c_str()) != DuckDBSuccess) {
      duckdb_destroy_config(&config);
      return Status::InvalidArgument("duckdb: bad setting " + name + "=" + value);
    }
  }
  duckdb_database db = nullptr;
  char* err = nullptr;
  const duckdb_state st = duckdb_open_ext(path.empty() ? nullptr : path.c_str(), &db, config, &err);
  duckdb_destroy_config(&config);
  if (st != DuckDBSuccess) {
    Status s = Status::IOError("duckdb: cannot open " + path + ": " +
                               (err != nullptr ? err : "unknown error"));
    duckdb_free(err);
    return s;
  }
  return Database(db);
}

// ---- Appender ----

Appender::Appender(Appender&& o) noexcept
    : app_(std::exchange(o.app_, nullptr)), types_(std::move(o.types_)) {
  o.types_.clear();
}

Appender& Appender::operator=(Appender&& o) noexcept {
  if (this != &o) {
    Reset();
    app_ = std::exchange(o.app_, nullptr);
    types_ = std::move(o.types_);
    o.types_.clear();
  }
  return *this;
}

Appender::~Appender() { Reset(); }

void Appender::Reset() {
  for (auto& t : types_) duckdb_destroy_logical_type(&t);
  types_.clear();
  if (app_ != nullptr) duckdb_appender_destroy(&app_);
  app_ = nullptr;
}

Status Appender::Error(std::string_view what) const {
  return ErrorFrom(what, duckdb_appender_error(app_));
}

Result<Appender> Appender::Create(const Connection& con, const std::string& table) {
  Appender a;
  const size_t dot = table.find('.');
  const duckdb_state st =
      dot == std::string::npos
          ? duckdb_appender_create(con.get(), nullptr, table.c_str(), &a.app_)
          : duckdb_appender_create_ext(con.get(), table.substr(0, dot).c_str(), "main",
                                       table.substr(dot + 1).c_str(), &a.app_);
  if (st != DuckDBSuccess) return a.Error("appender on " + table);
  const idx_t n = duckdb_appender_column_count(a.app_);
  a.types_.reserve(n);
  for (idx_t c = 0; c < n; ++c) a.types_.push_back(duckdb_appender_column_type(a.app_, c));
  return a;
}

DataChunk Appender::NewChunk() const {
  return DataChunk(
      duckdb_create_data_chunk(const_cast<duckdb_logical_type*>(types_.data()), types_.size()));
}

Status Appender::AppendChunk(const DataChunk& chunk) {
  if (duckdb_append_data_chunk(app_, chunk.get()) != DuckDBSuccess) return Error("append");
  return Status::OK();
}

Status Appender::Flush() {
  if (duckdb_appender_flush(app_) != DuckDBSuccess) return Error("append flush");
  return Status::OK();
}

Status Appender::Close() {
  if (duckdb_appender_close(app_) != DuckDBSuccess) return Error("append close");
  return Status::OK();
}

}  // namespace sluice::duck
