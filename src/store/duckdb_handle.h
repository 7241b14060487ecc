// Thin RAII wrappers over the DuckDB C API (third_party/duckdb/include/duckdb.h).
//
// The C API hands out raw handles that must each be destroyed exactly once, on every
// path, including error paths where the handle still carries the error text. These
// classes own one handle each (move-only), free it in the destructor, and turn DuckDB's
// success/error states into Status / Result<T> carrying DuckDB's own message. Only what
// the store needs is wrapped; get() exposes the raw handle for the rest (vector access
// inside data chunks is used directly, where a wrapper would only cost speed).
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::duck {

// A data chunk: up to duckdb_vector_size() rows of column vectors.
class DataChunk {
 public:
  DataChunk() = default;
  explicit DataChunk(duckdb_data_chunk c) : chunk_(c) {}
  DataChunk(DataChunk&& o) noexcept : chunk_(std::exchange(o.chunk_, nullptr)) {}
  DataChunk& operator=(DataChunk&& o) noexcept;
  ~DataChunk();

  explicit operator bool() const { return chunk_ != nullptr; }
  duckdb_data_chunk get() const { return chunk_; }
  idx_t size() const { return duckdb_data_chunk_get_size(chunk_); }
  void set_size(idx_t n) { duckdb_data_chunk_set_size(chunk_, n); }
  duckdb_vector column(idx_t c) const { return duckdb_data_chunk_get_vector(chunk_, c); }

 private:
  duckdb_data_chunk chunk_ = nullptr;
};

// Cell helpers for filling and reading chunk vectors.
void SetNull(duckdb_vector v, idx_t row);
inline void SetString(duckdb_vector v, idx_t row, std::string_view s) {
  duckdb_vector_assign_string_element_len(v, row, s.data(), s.size());
}
// Sets a VARCHAR cell to point at `s` without copying it into the vector, for chunks
// handed to Appender::AppendChunk, which copies every string into its own buffer: `s`
// must outlive that call, and be valid UTF-8 (nothing checks it here). It saves, per
// string, the copy into the vector's string heap (~3% of the store consumer's CPU in
// store_bench; DuckDB still scans the UTF-8 for its statistics).
// duckdb_string_t is the C API's documented, non-owning string_t: short strings are
// inlined, zero-padded (DuckDB compares the 16 bytes whole), longer ones keep a prefix.
inline void SetBorrowedString(duckdb_vector v, idx_t row, std::string_view s) {
  auto* cell = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v)) + row;
  const auto n = static_cast<uint32_t>(s.size());
  if (n <= sizeof cell->value.inlined.inlined) {
    std::memset(cell, 0, sizeof *cell);
    cell->value.inlined.length = n;
    if (n > 0) std::memcpy(cell->value.inlined.inlined, s.data(), n);
  } else {
    cell->value.pointer.length = n;
    std::memcpy(cell->value.pointer.prefix, s.data(), sizeof cell->value.pointer.prefix);
    cell->value.pointer.ptr = const_cast<char*>(s.data());
  }
}
// Reads a VARCHAR cell; the view lives as long as the chunk.
inline std::string_view GetString(duckdb_vector v, idx_t row) {
  auto* cells = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v));
  return std::string_view(duckdb_string_t_data(&cells[row]), duckdb_string_t_length(cells[row]));
}
inline bool IsValid(duckdb_vector v, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(v);
  return validity == nullptr || duckdb_validity_row_is_valid(validity, row);
}

// A query result, materialized or streaming.
class QueryResult {
 public:
  QueryResult() = default;
  QueryResult(QueryResult&& o) noexcept
      : result_(o.result_), live_(std::exchange(o.live_, false)) {}
  QueryResult& operator=(QueryResult&& o) noexcept;
  ~QueryResult();

  // Takes ownership of `r` (which must be destroyed even when the query failed).
  static QueryResult Adopt(duckdb_result r);

  bool streaming() const;
  // The next chunk; an empty DataChunk at the end. Streaming results fail mid-way only
  // through `status` (e.g. an interrupted scan).
  DataChunk FetchChunk(Status* status);
  // The first column of the first row as UBIGINT; nullopt when there are no rows or it is
  // NULL. InvalidArgument if the column is not UBIGINT (cast in SQL: `count(*)::UBIGINT`).
  Result<std::optional<uint64_t>> FirstUInt64();
  // The same for a BIGINT column (`epoch_us(...)`).
  Result<std::optional<int64_t>> FirstInt64();

 private:
  template <typename T>
  Result<std::optional<T>> FirstValue(duckdb_type type, const char* name);

  duckdb_result result_{};
  bool live_ = false;
};

class PreparedStatement {
 public:
  PreparedStatement() = default;
  PreparedStatement(PreparedStatement&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
  PreparedStatement& operator=(PreparedStatement&& o) noexcept;
  ~PreparedStatement();
  explicit operator bool() const { return stmt_ != nullptr; }

  // Parameters are 1-based, as in SQL ($1, $2, ...).
  Status BindVarchar(idx_t index, std::string_view value);
  Status BindUInt64(idx_t index, uint64_t value);
  Status BindInt64(idx_t index, int64_t value);
  Status BindDouble(idx_t index, double value);
  // A TIMESTAMP (no time zone) of `micros` since the epoch, as sluice stores ts.
  Status BindTimestampMicros(idx_t index, int64_t micros);
  Result<QueryResult> Execute();
  // Produces the result chunk by chunk as it is fetched, in constant memory. The
  // connection must run nothing else until the result is destroyed.
  Result<QueryResult> ExecuteStreaming();

 private:
  friend class Connection;
  explicit PreparedStatement(duckdb_prepared_statement s) : stmt_(s) {}
  duckdb_prepared_statement stmt_ = nullptr;
};

class Database;

// One connection: a session with its own transaction. Not thread-safe.
class Connection {
 public:
  Connection() = default;
  Connection(Connection&& o) noexcept : con_(std::exchange(o.con_, nullptr)) {}
  Connection& operator=(Connection&& o) noexcept;
  ~Connection();

  static Result<Connection> Open(const Database& db);

  duckdb_connection get() const { return con_; }
  // Runs `sql` (may hold several statements) and drops any result.
  Status Exec(const std::string& sql);
  Result<QueryResult> Query(const std::string& sql);
  Result<PreparedStatement> Prepare(const std::string& sql);

 private:
  explicit Connection(duckdb_connection c) : con_(c) {}
  duckdb_connection con_ = nullptr;
};

class Database {
 public:
  Database() = default;
  Database(Database&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Database& operator=(Database&& o) noexcept;
  ~Database();  // waits for the last connection to close, checkpoints

  // Opens or creates the database file at `path` (":memory:" or "" for in-memory).
  // `options` are DuckDB configuration settings (name, value).
  static Result<Database> Open(const std::string& path,
                               const std::vector<std::pair<std::string, std::string>>& options);

  duckdb_database get() const { return db_; }

 private:
  explicit Database(duckdb_database d) : db_(d) {}
  duckdb_database db_ = nullptr;
};

// Bulk inserts into one table. Rows go through the connection's current transaction;
// they are handed to the table on Flush()/Close() (and on an internal buffer limit).
class Appender {
 public:
  Appender() = default;
  Appender(Appender&& o) noexcept;
  Appender& operator=(Appender&& o) noexcept;
  ~Appender();  // destroys without reporting; call Close() to learn about errors

  // `table` may name another attached database's table as "catalog.table".
  static Result<Appender> Create(const Connection& con, const std::string& table);

  idx_t column_count() const { return types_.size(); }
  // An empty chunk with exactly the table's column types, so appending needs no cast
  // (JSON columns stay JSON, not VARCHAR cast to JSON).
  DataChunk NewChunk() const;
  Status AppendChunk(const DataChunk& chunk);
  Status Flush();
  Status Close();

 private:
  void Reset();
  Status Error(std::string_view what) const;
  duckdb_appender app_ = nullptr;
  std::vector<duckdb_logical_type> types_;
};

}  // namespace sluice::duck
