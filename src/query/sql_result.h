// SqlResult: the rows a SQL query returned, and its three output formats (SPEC §3.1
// `sluice query --format table|json|csv`, §3.2 POST /v1/query).
//
// json:  {"columns":[{"name":..,"type":..}],"rows":[[..]],"row_count":n,"truncated":b,
//         "elapsed_ms":x} — numbers and booleans as JSON numbers/booleans, NULL as null,
//         JSON columns (properties, context) embedded as JSON, timestamps as RFC 3339.
// csv:   RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma,
//        quote or line break; NULL is an empty field.
// table: aligned columns for a terminal, NULL shown as NULL, long cells cut with "...".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "query/column_reader.h"

namespace sluice {

struct SqlColumn {
  std::string name;
  std::string type;  // DuckDB's SQL type name ("BIGINT", "JSON", "VARCHAR[]")
};

struct SqlResult {
  std::vector<SqlColumn> columns;
  std::vector<std::vector<Cell>> rows;
  bool truncated = false;  // more rows existed than the configured [query] max_rows
  uint64_t max_rows = 0;   // the cap that applied (for the table footer)
  double elapsed_ms = 0;
};

enum class SqlFormat { kJson, kCsv, kTable };

// "json" | "csv" | "table".
Result<SqlFormat> ParseSqlFormat(std::string_view name);

std::string FormatJson(const SqlResult& r);
std::string FormatCsv(const SqlResult& r);
std::string FormatTable(const SqlResult& r);
std::string FormatSqlResult(const SqlResult& r, SqlFormat format);

}  // namespace sluice
