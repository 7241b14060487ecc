// UserKey (user_key.h): XXH3 of user_id, and the SQL-side fill for rows written by SQL.
#include "store/user_key.h"

#include <xxhash.h>

#include <vector>

namespace sluice {

uint32_t UserKey(std::string_view user_id) {
  return static_cast<uint32_t>(XXH3_64bits(user_id.data(), user_id.size()));
}

Status FillUserKeys(duck::Connection& con, const std::string& where_sql) {
  // Read every (rowid, user_id) first, then write: the scan's result must be finished
  // before the same connection appends and updates.
  std::vector<int64_t> rowids;
  std::vector<uint32_t> keys;
  {
    auto r = con.Query(
        "SELECT rowid, user_id FROM events_hot WHERE user_key IS NULL AND "
        "user_id IS NOT NULL AND (" +
        where_sql + ")");
    if (!r.ok()) return r.status();
    while (true) {
      Status st;
      duck::DataChunk chunk = r->FetchChunk(&st);
      if (!st.ok()) return st;
      if (!chunk) break;
      const auto* ids = static_cast<const int64_t*>(duckdb_vector_get_data(chunk.column(0)));
      for (idx_t row = 0; row < chunk.size(); ++row) {
        rowids.push_back(ids[row]);
        keys.push_back(UserKey(duck::GetString(chunk.column(1), row)));
      }
    }
  }
  if (rowids.empty()) return Status::OK();
  SLUICE_RETURN_IF_ERROR(
      con.Exec("CREATE TEMP TABLE IF NOT EXISTS user_key_fill (rid BIGINT, k UINTEGER);"
               "DELETE FROM user_key_fill"));
  auto app = duck::Appender::Create(con, "user_key_fill");
  if (!app.ok()) return app.status();
  const size_t cap = duckdb_vector_size();
  for (size_t i = 0; i < rowids.size();) {
    duck::DataChunk chunk = app->NewChunk();
    if (!chunk) return Status::Internal("user keys: cannot allocate a data chunk");
    auto* rid = static_cast<int64_t*>(duckdb_vector_get_data(chunk.column(0)));
    auto* k = static_cast<uint32_t*>(duckdb_vector_get_data(chunk.column(1)));
    idx_t n = 0;
    for (; n < cap && i < rowids.size(); ++n, ++i) {
      rid[n] = rowids[i];
      k[n] = keys[i];
    }
    chunk.set_size(n);
    SLUICE_RETURN_IF_ERROR(app->AppendChunk(chunk));
  }
  SLUICE_RETURN_IF_ERROR(app->Close());
  return con.Exec(
      "UPDATE events_hot SET user_key = f.k FROM user_key_fill f WHERE events_hot.rowid = f.rid;"
      "DELETE FROM user_key_fill");
}

}  // namespace sluice
