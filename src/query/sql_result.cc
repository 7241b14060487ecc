// SqlResult formats (sql_result.h).
#include "query/sql_result.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice {

namespace {

// Display width of UTF-8 text, counted in code points (close enough for alignment).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// `s` cut to at most `max` code points, with "..." marking the cut.
std::string Cut(std::string_view s, size_t max) {
  if (Width(s) <= max) return std::string(s);
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80 && ++n > max - 3) break;
    out.push_back(s[i]);
  }
  return out + "...";
}

std::string TableCell(const Cell& c) {
  if (c.kind == Cell::Kind::kNull) return "NULL";
  std::string out;
  for (char ch : c.text) {
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += ' ';
    } else {
      out.push_back(ch);
    }
  }
  return Cut(out, 60);
}

void AppendCsvField(std::string* out, const Cell& c) {
  if (c.kind == Cell::Kind::kNull) return;
  if (c.text.find_first_of(",\"\r\n") == std::string::npos) {
    *out += c.text;
    return;
  }
  out->push_back('"');
  for (char ch : c.text) {
    if (ch == '"') out->push_back('"');
    out->push_back(ch);
  }
  out->push_back('"');
}

}  // namespace

Result<SqlFormat> ParseSqlFormat(std::string_view name) {
  if (name == "json") return SqlFormat::kJson;
  if (name == "csv") return SqlFormat::kCsv;
  if (name == "table") return SqlFormat::kTable;
  return Status::InvalidArgument("unknown format \"" + std::string(name) +
                                 "\": use json, csv or table");
}

std::string FormatJson(const SqlResult& r) {
  std::string out = "{\"columns\":[";
  for (size_t i = 0; i < r.columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"name\":";
    AppendJsonString(&out, r.columns[i].name);
    out += ",\"type\":";
    AppendJsonString(&out, r.columns[i].type);
    out.push_back('}');
  }
  out += "],\"rows\":[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('[');
    for (size_t j = 0; j < r.rows[i].size(); ++j) {
      if (j > 0) out.push_back(',');
      AppendJsonCell(&out, r.rows[i][j]);
    }
    out.push_back(']');
  }
  out += fmt::format("],\"row_count\":{},\"truncated\":{},\"elapsed_ms\":{:.3f}}}", r.rows.size(),
                     r.truncated ? "true" : "false", r.elapsed_ms);
  return out;
}

std::string FormatCsv(const SqlResult& r) {
  std::string out;
  for (size_t i = 0; i < r.columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvField(&out, Cell{Cell::Kind::kString, r.columns[i].name});
  }
  out += "\r\n";
  for (const auto& row : r.rows) {
    for (size_t j = 0; j < row.size(); ++j) {
      if (j > 0) out.push_back(',');
      AppendCsvField(&out, row[j]);
    }
    out += "\r\n";
  }
  return out;
}

std::string FormatTable(const SqlResult& r) {
  const size_t n = r.columns.size();
  std::vector<std::vector<std::string>> cells;
  cells.reserve(r.rows.size());
  std::vector<size_t> width(n);
  std::vector<bool> right(n);  // numbers align right
  for (size_t j = 0; j < n; ++j) {
    width[j] = Width(r.columns[j].name);
    const std::string& t = r.columns[j].type;
    right[j] = t.find("INT") != std::string::npos || t == "FLOAT" || t == "DOUBLE" ||
               t.rfind("DECIMAL", 0) == 0;
  }
  for (const auto& row : r.rows) {
    auto& out = cells.emplace_back();
    for (size_t j = 0; j < n; ++j) {
      out.push_back(TableCell(row[j]));
      width[j] = std::max(width[j], Width(out.back()));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& values) {
    for (size_t j = 0; j < n; ++j) {
      if (j > 0) out += " | ";
      const size_t pad = width[j] - Width(values[j]);
      const bool r_align = right[j];
      if (r_align) out.append(pad, ' ');
      out += values[j];
      if (!r_align && j + 1 < n) out.append(pad, ' ');
    }
    out.push_back('\n');
  };
  std::vector<std::string> names;
  for (const auto& c : r.columns) names.push_back(c.name);
  line(names);
  for (size_t j = 0; j < n; ++j) {
    if (j > 0) out += "-+-";
    out.append(width[j], '-');
  }
  out.push_back('\n');
  for (const auto& row : cells) line(row);
  out += fmt::format(
      "({} row{}{}, {:.1f} ms)\n", r.rows.size(), r.rows.size() == 1 ? "" : "s",
      r.truncated ? fmt::format("; truncated at [query] max_rows = {}", r.max_rows) : "",
      r.elapsed_ms);
  return out;
}

std::string FormatSqlResult(const SqlResult& r, SqlFormat format) {
  switch (format) {
    case SqlFormat::kCsv:
      return FormatCsv(r);
    case SqlFormat::kTable:
      return FormatTable(r);
    case SqlFormat::kJson:
      break;
  }
  return FormatJson(r);
}

}  // namespace sluice
