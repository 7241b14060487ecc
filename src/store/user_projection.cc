// The user projection's SQL (user_projection.h); EventStore runs the projection steps.
#include "store/user_projection.h"

namespace sluice {

Result<std::optional<int64_t>> LoadProjectedUntil(duck::Connection& con) {
  auto r = con.Query("SELECT epoch_us(max(through)) FROM user_projection");
  if (!r.ok()) return r.status();
  return r->FirstInt64();
}

Status CopyToProjection(duck::Connection& con, const std::string& where_sql) {
  // Insertion order is kept (DuckDB's preserve_insertion_order), so the ORDER BY is the
  // physical order: a user's rows of the day share a vector, and user_key's zone maps
  // prune the day's other row groups.
  return con.Exec(std::string("INSERT INTO events_by_user SELECT ") + kHotColumnList +
                  " FROM events_hot WHERE " + where_sql + " ORDER BY tenant, user_key, ts");
}

Status DeleteFromProjection(duck::Connection& con, const std::string& where_sql) {
  return con.Exec("DELETE FROM events_by_user WHERE " + where_sql);
}

Status RecopyProjectedHour(duck::Connection& con, const std::string& hour_sql,
                           int64_t hour_end_us) {
  auto p = LoadProjectedUntil(con);
  if (!p.ok()) return p.status();
  // P is a day boundary, so an hour lies wholly below it or wholly at or past it.
  if (!*p || hour_end_us > **p) return Status::OK();
  SLUICE_RETURN_IF_ERROR(DeleteFromProjection(con, hour_sql));
  return CopyToProjection(con, hour_sql);
}

int64_t FloorProjectionDay(int64_t us) {
  int64_t r = us % kProjectionDayUs;
  if (r < 0) r += kProjectionDayUs;
  return us - r;
}

}  // namespace sluice
