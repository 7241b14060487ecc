// CheckQuerySql (sql_guard.h): DuckDB parses, the guard walks the JSON syntax tree.
#include "query/sql_guard.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

namespace sluice {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The first keyword of `sql`, upper-cased, for naming a refused statement ("COPY").
std::string FirstKeyword(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return {};
    } else if (sql.substr(i, 2) == "/*") {
      i = sql.find("*/", i + 2);
      if (i == std::string_view::npos) return {};
      i += 2;
    } else {
      break;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) && word.size() < 32) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
  }
  return word;
}

// Pure generators: they read nothing but their arguments.
bool AllowedTableFunction(const std::string& name) {
  static const std::set<std::string> kAllowed = {
      "range", "generate_series", "unnest", "json_each", "json_tree", "generate_subscripts"};
  return kAllowed.count(name) > 0;
}

// Scalar functions and macros that look outside the rows they are given: settings and
// variables, sequences, the catalog and the session, the query or plan text, logs, and
// storage statistics (stats() reports min/max of the underlying column, i.e. of every
// tenant). Prefixes catch whole families, including ones added by later DuckDB versions.
bool DeniedScalarFunction(const std::string& name) {
  static const std::set<std::string> kDenied = {"current_setting",
                                                "getvariable",
                                                "getenv",
                                                "nextval",
                                                "currval",
                                                "setseed",
                                                "stats",
                                                "write_log",
                                                "version",
                                                "in_search_path",
                                                "col_description",
                                                "obj_description",
                                                "shobj_description",
                                                "format_type",
                                                "format_pg_type",
                                                "map_to_pg_oid",
                                                "get_block_size",
                                                "session_user",
                                                "user",
                                                "txid_current",
                                                "query",
                                                "query_table",
                                                "json_serialize_plan",
                                                "json_execute_serialized_sql",
                                                "parse_duckdb_log_message",
                                                "sql_auto_complete",
                                                "which_secret",
                                                "glob"};
  static const char* kDeniedPrefixes[] = {
      "current_", "pg_",   "has_",    "duckdb_",  "pragma_", "read_",      "parquet_",
      "inet_",    "txid_", "enable_", "disable_", "icu_",    "checkpoint", "force_"};
  // The clock is not the session: these share a prefix with the session's functions.
  static const std::set<std::string> kAllowedDespitePrefix = {
      "pg_typeof",         "pg_size_pretty",    "current_date",          "current_time",
      "current_timestamp", "current_localtime", "current_localtimestamp"};
  if (kDenied.count(name) > 0) return true;
  if (kAllowedDespitePrefix.count(name) > 0) return false;
  for (const char* p : kDeniedPrefixes) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

// DuckDB's parser errors carry a "LINE 1: ..." excerpt on further lines.
std::string FirstLine(std::string_view s) { return std::string(s.substr(0, s.find('\n'))); }

bool PlainIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

std::string_view StringField(object o, const char* key) {
  std::string_view v;
  if (o[key].get(v) != simdjson::SUCCESS) return {};
  return v;
}

bool NullOrMissing(object o, const char* key) {
  element e;
  return o[key].get(e) != simdjson::SUCCESS || e.is_null();
}

// One pass over the whole tree: refuses on the spot what is wrong wherever it is, and
// collects table references and CTE names, which are only judged once all are known.
class TreeWalk {
 public:
  Status Visit(element e) {
    if (e.is_array()) {
      for (element child : e.get_array()) SLUICE_RETURN_IF_ERROR(Visit(child));
      return Status::OK();
    }
    if (!e.is_object()) return Status::OK();
    object o = e.get_object();
    SLUICE_RETURN_IF_ERROR(VisitNode(o));
    for (auto field : o) SLUICE_RETURN_IF_ERROR(Visit(field.value));
    return Status::OK();
  }

  const std::vector<std::string>& tables() const { return tables_; }
  const std::set<std::string>& ctes() const { return ctes_; }

 private:
  Status VisitNode(object o) {
    std::string_view type = StringField(o, "type");
    element ignored;
    if (o["class"].get(ignored) == simdjson::SUCCESS) return VisitExpression(o);
    if (type.size() > 5 && type.substr(type.size() - 5) == "_NODE") return VisitQueryNode(o, type);
    // Table references carry a "sample" field (TABLESAMPLE); nothing else outside query
    // nodes does.
    if (!type.empty() && o["sample"].get(ignored) == simdjson::SUCCESS)
      return VisitTableRef(o, type);
    return Status::OK();
  }

  Status VisitExpression(object o) {
    std::string_view fn = StringField(o, "function_name");
    if (fn.empty()) return Status::OK();
    const std::string name = Lower(fn);
    // The name decides, with or without a schema: the parser itself qualifies some
    // (main.list_value for [1, 2]), and pg_catalog.current_setting is current_setting.
    if (table_function_names_.count(name) == 0 && DeniedScalarFunction(name)) {
      return Status::InvalidArgument("function " + std::string(fn) +
                                     " is not allowed in queries (it reads settings, the catalog "
                                     "or data outside the events view)");
    }
    return Status::OK();
  }

  Status VisitQueryNode(object o, std::string_view type) {
    element map;
    if (o["cte_map"]["map"].get(map) == simdjson::SUCCESS && map.is_array()) {
      for (element entry : map.get_array()) {
        std::string_view key;
        if (entry["key"].get(key) == simdjson::SUCCESS) ctes_.insert(std::string(key));
      }
    }
    if (type == "RECURSIVE_CTE_NODE") ctes_.insert(std::string(StringField(o, "cte_name")));
    return Status::OK();
  }

  Status VisitTableRef(object o, std::string_view type) {
    if (type == "BASE_TABLE") {
      std::string_view name = StringField(o, "table_name");
      std::string_view schema = StringField(o, "schema_name");
      std::string_view catalog = StringField(o, "catalog_name");
      if (!schema.empty() || !catalog.empty()) {
        std::string full = std::string(catalog.empty() ? "" : std::string(catalog) + ".") +
                           (schema.empty() ? "" : std::string(schema) + ".") + std::string(name);
        return Status::InvalidArgument(std::string("only the \"") + kQueryViewName +
                                       "\" view can be queried; \"" + full + "\" is not allowed");
      }
      if (!NullOrMissing(o, "at_clause")) {
        return Status::InvalidArgument("AT (time travel) clauses are not allowed");
      }
      tables_.emplace_back(name);
      return Status::OK();
    }
    if (type == "TABLE_FUNCTION") {
      std::string_view fn;
      if (o["function"]["function_name"].get(fn) != simdjson::SUCCESS) fn = {};
      const std::string name = Lower(fn);
      if (!AllowedTableFunction(name)) {
        return Status::InvalidArgument("table function " + std::string(fn) +
                                       " is not allowed: queries read only the \"events\" view "
                                       "(allowed generators: range, generate_series, unnest, "
                                       "json_each, json_tree)");
      }
      table_function_names_.insert(name);
      return Status::OK();
    }
    if (type == "SHOW_REF") {
      // DESCRIBE/SUMMARIZE of a query carry the query (walked like any other); SHOW
      // TABLES, SHOW ALL TABLES, DESCRIBE of a bare name list catalog objects.
      if (NullOrMissing(o, "query")) {
        return Status::InvalidArgument(
            "SHOW and DESCRIBE of catalog objects are not allowed; use DESCRIBE SELECT * FROM "
            "events");
      }
      return Status::OK();
    }
    if (type == "JOIN" || type == "SUBQUERY" || type == "EMPTY" || type == "EXPRESSION_LIST" ||
        type == "PIVOT") {
      return Status::OK();
    }
    return Status::InvalidArgument("this kind of FROM clause (" + std::string(type) +
                                   ") is not allowed");
  }

  std::vector<std::string> tables_;
  std::set<std::string> ctes_;
  std::set<std::string> table_function_names_;
};

// True if `name` resolves to a table, view or anything else in the catalog. Binding is
// what decides, not a list: system views (pg_tables, sqlite_master, duckdb_tables, ...)
// and tables that later modules add are all found.
bool ResolvesInCatalog(duck::Connection& con, const std::string& name) {
  auto stmt = con.Prepare("SELECT 1 FROM \"" + name + "\" LIMIT 0");
  return stmt.ok();
}

Result<std::string> SerializeSql(duck::Connection& con, std::string_view sql) {
  auto stmt = con.Prepare("SELECT json_serialize_sql($1::VARCHAR)::VARCHAR");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, sql));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  Status st;
  duck::DataChunk chunk = r->FetchChunk(&st);
  if (!st.ok()) return st;
  if (!chunk || !duck::IsValid(chunk.column(0), 0)) {
    return Status::Internal("json_serialize_sql returned nothing");
  }
  return std::string(duck::GetString(chunk.column(0), 0));
}

}  // namespace

Status CheckQuerySql(duck::Connection& con, std::string_view sql) {
  if (FirstKeyword(sql).empty() && sql.find_first_not_of(" \t\r\n;") == std::string_view::npos) {
    return Status::InvalidArgument("the query is empty");
  }
  // Counted before anything else so that "SELECT 1; DROP TABLE x" is named for what it is.
  const std::string text(sql);
  duckdb_extracted_statements extracted = nullptr;
  const idx_t count = duckdb_extract_statements(con.get(), text.c_str(), &extracted);
  std::string parse_error;
  if (count == 0) {
    const char* e = duckdb_extract_statements_error(extracted);
    parse_error = e != nullptr ? e : "cannot parse the query";
  }
  duckdb_destroy_extracted(&extracted);
  if (count == 0) return Status::InvalidArgument(FirstLine(parse_error));
  if (count > 1 && (FirstKeyword(sql) == "PIVOT" || FirstKeyword(sql) == "UNPIVOT")) {
    // DuckDB expands a PIVOT statement without an IN list into CREATE TYPE + SELECT.
    return Status::InvalidArgument("only SELECT queries are allowed; " + FirstKeyword(sql) +
                                   " is not (write SELECT ... FROM events PIVOT (... FOR column "
                                   "IN (...)))");
  }
  if (count > 1) {
    return Status::InvalidArgument("only one SELECT statement is allowed; the query holds " +
                                   std::to_string(count));
  }

  auto json = SerializeSql(con, sql);
  if (!json.ok()) return json.status();
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(*json).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Status::Internal("cannot read DuckDB's syntax tree");
  }
  bool failed = false;
  if (root["error"].get(failed) != simdjson::SUCCESS) failed = false;
  if (failed) {
    std::string_view kind = StringField(root.get_object(), "error_type");
    std::string_view message = StringField(root.get_object(), "error_message");
    if (kind == "not implemented") {  // "Only SELECT statements can be serialized"
      std::string word = FirstKeyword(sql);
      return Status::InvalidArgument("only SELECT queries are allowed" +
                                     (word.empty() ? std::string() : "; " + word + " is not"));
    }
    return Status::InvalidArgument(FirstLine(message));
  }
  element statements;
  if (root["statements"].get(statements) != simdjson::SUCCESS || !statements.is_array() ||
      statements.get_array().size() != 1) {
    return Status::InvalidArgument("only one SELECT statement is allowed");
  }

  TreeWalk walk;
  SLUICE_RETURN_IF_ERROR(walk.Visit(statements));

  std::set<std::string> ctes;
  for (const std::string& cte : walk.ctes()) {
    if (!PlainIdentifier(cte)) {
      return Status::InvalidArgument(
          "CTE name \"" + cte + "\" is not allowed: use a plain identifier (letters, digits, _)");
    }
    const std::string name = Lower(cte);
    if (name != kQueryViewName && ResolvesInCatalog(con, name)) {
      return Status::InvalidArgument("CTE name \"" + cte +
                                     "\" is not allowed: it is the name of a built-in or internal "
                                     "relation; choose another name");
    }
    ctes.insert(name);
  }
  for (const std::string& table : walk.tables()) {
    const std::string name = Lower(table);
    if (name == kQueryViewName || ctes.count(name) > 0) continue;
    if (name.find('/') != std::string::npos || name.find('.') != std::string::npos ||
        name.find(':') != std::string::npos) {
      return Status::InvalidArgument("reading files is not allowed; \"" + table +
                                     "\" is not the \"events\" view");
    }
    return Status::InvalidArgument(std::string("only the \"") + kQueryViewName +
                                   "\" view can be queried; \"" + table + "\" is not allowed");
  }
  return Status::OK();
}

}  // namespace sluice
