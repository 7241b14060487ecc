// Parquet -> NDJSON envelopes through an in-memory DuckDB (parquet_import.h).
#include "cli/parquet_import.h"

#include <cstdio>
#include <map>
#include <vector>

#include "store/duckdb_handle.h"
#include "store/events_view.h"

namespace sluice {

bool IsParquetFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[4] = {};
  const bool ok = std::fread(magic, 1, 4, f) == 4 && std::string_view(magic, 4) == "PAR1";
  std::fclose(f);
  return ok;
}

Status ReadParquetAsNdjson(const std::string& path, size_t batch_bytes,
                           const std::function<Status(std::string_view ndjson)>& batch) {
  auto db = duck::Database::Open("", {{"autoinstall_known_extensions", "false"}});
  if (!db.ok()) return db.status();
  auto con = duck::Connection::Open(*db);
  if (!con.ok()) return con.status();
  const std::string src = "read_parquet(" + SqlQuote(path) + ")";
  // Which envelope fields the file has, under any alias, and their types.
  std::map<std::string, std::pair<std::string, std::string>> have;  // field -> (column, type)
  const std::vector<std::pair<std::string, std::vector<std::string>>> fields = {
      {"event_id", {"event_id", "id", "messageId", "uuid"}},
      {"type", {"type", "event", "name"}},
      {"timestamp", {"ts", "timestamp"}},
      {"user_id", {"user_id", "userId", "distinct_id"}},
      {"anonymous_id", {"anonymous_id", "anonymousId"}},
      {"properties", {"properties"}},
      {"context", {"context"}}};
  {
    auto r =
        con->Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + src + ")");
    if (!r.ok()) return r.status();
    std::map<std::string, std::string> cols;
    Status st;
    while (auto chunk = r->FetchChunk(&st)) {
      for (idx_t i = 0; i < chunk.size(); ++i) {
        cols[std::string(duck::GetString(chunk.column(0), i))] =
            std::string(duck::GetString(chunk.column(1), i));
      }
    }
    SLUICE_RETURN_IF_ERROR(st);
    for (const auto& [field, aliases] : fields) {
      for (const auto& a : aliases) {
        if (auto it = cols.find(a); it != cols.end()) {
          have[field] = {a, it->second};
          break;
        }
      }
    }
  }
  if (have.empty()) {
    return Status::InvalidArgument(path + ": no envelope columns (event_id, type, ts, ...)");
  }
  // json_object keeps SQL NULLs as JSON null; json_merge_patch with {} drops them, so an
  // absent value reads as absent, not as the string "null".
  std::string obj = "json_object(";
  bool first = true;
  for (const auto& [field, col] : have) {
    std::string expr = "\"" + col.first + "\"";
    if (field == "timestamp" && col.second.rfind("TIMESTAMP", 0) == 0) {
      expr = "epoch_us(" + expr + ")";  // unix µs: the ingest normalizer's numeric form
    } else if ((field == "properties" || field == "context") && col.second != "JSON") {
      expr = "try_cast(" + expr + " AS JSON)";
    }
    obj += (first ? "" : ", ") + SqlQuote(field) + ", " + expr;
    first = false;
  }
  obj += ")";
  auto stmt = con->Prepare("SELECT json_merge_patch('{}', " + obj + ")::VARCHAR FROM " + src);
  if (!stmt.ok()) return stmt.status();
  auto r = stmt->ExecuteStreaming();
  if (!r.ok()) return r.status();
  std::string buf;
  Status st;
  while (auto chunk = r->FetchChunk(&st)) {
    for (idx_t i = 0; i < chunk.size(); ++i) {
      buf.append(duck::GetString(chunk.column(0), i));
      buf.push_back('\n');
    }
    if (buf.size() >= batch_bytes) {
      SLUICE_RETURN_IF_ERROR(batch(buf));
      buf.clear();
    }
  }
  SLUICE_RETURN_IF_ERROR(st);
  if (!buf.empty()) SLUICE_RETURN_IF_ERROR(batch(buf));
  return Status::OK();
}

}  // namespace sluice
