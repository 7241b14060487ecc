#include "store/dead_letters.h"

namespace sluice {

Result<std::vector<DeadLetter>> ListDeadLetters(EventStore& store, const DeadLetterFilter& f) {
  auto con = duck::Connection::Open(store.db());
  if (!con.ok()) return con.status();
  auto stmt = con->Prepare(
      "SELECT tenant, event_id, type, epoch_us(ts), epoch_us(received_at), coalesce(user_id, ''),"
      " coalesce(anonymous_id, ''), coalesce(properties::VARCHAR, '{}'),"
      " coalesce(context::VARCHAR, ''), coalesce(source, ''), error, schema_version::BIGINT,"
      " coalesce(epoch_us(replayed_at), 0) FROM dead_letters"
      " WHERE tenant = $1 AND ($2 = '' OR type = $2) AND ($3 = 'all' OR replayed_at IS NULL)"
      " ORDER BY log_offset, received_at LIMIT $4");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, f.tenant));
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(2, f.type));
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(3, f.pending_only ? "pending" : "all"));
  SLUICE_RETURN_IF_ERROR(stmt->BindUInt64(4, f.limit));
  auto res = stmt->Execute();
  if (!res.ok()) return res.status();
  std::vector<DeadLetter> out;
  Status st;
  while (true) {
    duck::DataChunk chunk = res->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk || chunk.size() == 0) break;
    auto i64 = [&](idx_t c, idx_t row) {
      return static_cast<int64_t*>(duckdb_vector_get_data(chunk.column(c)))[row];
    };
    auto str = [&](idx_t c, idx_t row) {
      return std::string(duck::GetString(chunk.column(c), row));
    };
    for (idx_t row = 0; row < chunk.size(); ++row) {
      DeadLetter d;
      Event& e = d.rejected.event;
      e.tenant = str(0, row);
      e.event_id = str(1, row);
      e.type = str(2, row);
      e.ts_us = i64(3, row);
      e.received_at_us = i64(4, row);
      e.user_id = str(5, row);
      e.anonymous_id = str(6, row);
      e.properties = str(7, row);
      e.context = str(8, row);
      e.source = str(9, row);
      d.rejected.error = str(10, row);
      d.rejected.schema_version = static_cast<int>(i64(11, row));
      d.replayed_at_us = i64(12, row);
      out.push_back(std::move(d));
    }
  }
  return out;
}

Status MarkDeadLettersReplayed(EventStore& store, const std::string& tenant,
                               const std::vector<std::string>& event_ids, int64_t now_us) {
  if (event_ids.empty()) return Status::OK();
  auto con = duck::Connection::Open(store.db());
  if (!con.ok()) return con.status();
  SLUICE_RETURN_IF_ERROR(con->Exec("BEGIN TRANSACTION"));
  auto stmt = con->Prepare(
      "UPDATE dead_letters SET replayed_at = make_timestamp($3)"
      " WHERE tenant = $1 AND event_id = $2 AND replayed_at IS NULL");
  Status s = stmt.ok() ? Status::OK() : stmt.status();
  for (size_t i = 0; s.ok() && i < event_ids.size(); ++i) {
    s = stmt->BindVarchar(1, tenant);
    if (s.ok()) s = stmt->BindVarchar(2, event_ids[i]);
    if (s.ok()) s = stmt->BindInt64(3, now_us);
    if (s.ok()) {
      auto r = stmt->Execute();
      if (!r.ok()) s = r.status();
    }
  }
  if (s.ok()) s = con->Exec("COMMIT");
  if (!s.ok()) (void)con->Exec("ROLLBACK");
  return s;
}

}  // namespace sluice
