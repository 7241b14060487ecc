// EventsViewSql (events_view.h): hot rows UNION ALL the recorded files of evicted hours.
#include "store/events_view.h"

#include <map>
#include <vector>

namespace sluice {

std::string SqlQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string SqlTimestamp(int64_t us) {
  return "make_timestamp(" + std::to_string(us) + "::BIGINT)";
}

Result<std::string> EventsViewSql(duck::Connection& con, const std::string& archive_root,
                                  const std::string& tenant_or_empty, const HotBranch& hot,
                                  bool every_archived_file) {
  const bool one = !tenant_or_empty.empty();
  auto stmt =
      con.Prepare(std::string("SELECT f.tenant, f.file FROM archive_files f JOIN archive_hours h "
                              "ON f.tenant = h.tenant AND f.hour = h.hour WHERE ") +
                  (every_archived_file ? "true" : "h.evicted") + (one ? " AND f.tenant = $1" : "") +
                  " ORDER BY f.tenant, f.file");
  if (!stmt.ok()) return stmt.status();
  if (one) SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, tenant_or_empty));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  std::map<std::string, std::vector<std::string>> files;  // tenant -> paths
  while (true) {
    Status st;
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) break;
    for (idx_t row = 0; row < chunk.size(); ++row) {
      files[std::string(duck::GetString(chunk.column(0), row))].push_back(
          archive_root + "/" + std::string(duck::GetString(chunk.column(1), row)));
    }
  }

  // One SELECT of `table` with the tenant, the filter and `ts_bound` ANDed.
  auto branch = [&](const char* table, const std::string& ts_bound) {
    std::vector<std::string> where;
    if (one) where.push_back("tenant = " + SqlQuote(tenant_or_empty));
    if (!hot.filter.empty()) where.push_back("(" + hot.filter + ")");
    if (!ts_bound.empty()) where.push_back(ts_bound);
    std::string s = std::string("SELECT ") + kEventsViewColumns + " FROM " + table;
    for (size_t i = 0; i < where.size(); ++i) s += (i == 0 ? " WHERE " : " AND ") + where[i];
    return s;
  };
  std::string sql;
  if (hot.projected_until) {
    // A literal bound, not a subquery: the ts zone maps of events_hot prune on it.
    const std::string p = SqlTimestamp(*hot.projected_until);
    sql =
        branch("events_hot", "ts >= " + p) + " UNION ALL " + branch("events_by_user", "ts < " + p);
  } else {
    sql = branch("events_hot", "");
  }
  for (const auto& [tenant, paths] : files) {
    sql += " UNION ALL SELECT " + SqlQuote(tenant) +
           " AS tenant, event_id, type, ts, received_at, user_id, anonymous_id, "
           "properties::JSON AS properties, context::JSON AS context, source FROM read_parquet([";
    for (size_t i = 0; i < paths.size(); ++i) {
      if (i > 0) sql += ", ";
      sql += SqlQuote(paths[i]);
    }
    sql += "])";
  }
  return sql;
}

}  // namespace sluice
