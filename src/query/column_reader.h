// ColumnReader: turns the cells of a DuckDB result column into text for query output
// (POST /v1/query, `sluice query`).
//
// A cell becomes one of three things, and each output format decides how to write it:
// NULL; a string (VARCHAR, dates and times, UUIDs, ...) that JSON quotes; or JSON text
// (numbers, booleans, JSON columns such as `properties`, lists and structs) that JSON
// embeds as is. Timestamps are RFC 3339 in UTC, as everywhere else in the API.
//
// The column's type is read once into a tree (nested types have children), so reading a
// cell costs no C API type calls. A type with no sensible text form here (UNION, BIT,
// TIME WITH TIME ZONE, ...) is refused when the reader is made, with a message that says
// to cast the column.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/json_text.h"
#include "common/status.h"

namespace sluice {

struct Cell {
  enum class Kind : uint8_t { kNull, kString, kJson };
  Kind kind = Kind::kNull;
  std::string text;
};

// Appends `cell` as a JSON value.
void AppendJsonCell(std::string* out, const Cell& cell);

class ColumnReader {
 public:
  // `type` stays owned by the caller. `column_name` is for error messages only.
  static Result<ColumnReader> Make(duckdb_logical_type type, const std::string& column_name);
  ColumnReader(ColumnReader&&) noexcept;
  ColumnReader& operator=(ColumnReader&&) noexcept;
  ~ColumnReader();

  // The SQL name of the type: "BIGINT", "JSON", "VARCHAR[]", "STRUCT(a INTEGER)".
  const std::string& type_name() const;
  // Reads row `row` of vector `v` (a column of a chunk of this reader's type).
  Cell Read(duckdb_vector v, idx_t row) const;

  struct Type;  // the type tree (column_reader.cc)

 private:
  explicit ColumnReader(std::unique_ptr<Type> t);
  std::unique_ptr<Type> type_;
};

}  // namespace sluice
