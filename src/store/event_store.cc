#include "store/event_store.h"

#include <cstring>

namespace sluice {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS events ("
    " tenant VARCHAR NOT NULL, event_id VARCHAR NOT NULL, type VARCHAR NOT NULL,"
    " ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL, user_id VARCHAR,"
    " anonymous_id VARCHAR, properties VARCHAR, context VARCHAR, source VARCHAR);"
    "CREATE TABLE IF NOT EXISTS consumer_offsets (name VARCHAR PRIMARY KEY, log_offset UBIGINT);";

constexpr int kColumns = 10;

// Owns a duckdb_result and frees it on every path.
struct ResultGuard {
  duckdb_result r;
  bool live = false;
  ~ResultGuard() {
    if (live) duckdb_destroy_result(&r);
  }
};

void SetString(duckdb_vector v, idx_t row, const std::string& s, bool null_if_empty) {
  if (null_if_empty && s.empty()) {
    duckdb_vector_ensure_validity_writable(v);
    duckdb_validity_set_row_invalid(duckdb_vector_get_validity(v), row);
    return;
  }
  duckdb_vector_assign_string_element_len(v, row, s.data(), s.size());
}

}  // namespace

Result<std::unique_ptr<EventStore>> EventStore::Open(const std::string& path) {
  std::unique_ptr<EventStore> store(new EventStore());
  char* err = nullptr;
  duckdb_config config;
  duckdb_create_config(&config);
  // Extensions are never downloaded: the binary must work offline and not reach out.
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "true");
  if (duckdb_open_ext(path.c_str(), &store->db_, config, &err) != DuckDBSuccess) {
    std::string msg = err ? err : "unknown error";
    duckdb_free(err);
    duckdb_destroy_config(&config);
    return Status::IOError("cannot open store " + path + ": " + msg);
  }
  duckdb_destroy_config(&config);
  if (duckdb_connect(store->db_, &store->con_) != DuckDBSuccess) {
    return Status::IOError("cannot connect to store " + path);
  }
  SLUICE_RETURN_IF_ERROR(store->Query(kSchema));
  return store;
}

EventStore::~EventStore() {
  if (con_) duckdb_disconnect(&con_);
  if (db_) duckdb_close(&db_);
}

Status EventStore::Query(const char* sql) {
  ResultGuard g;
  g.live = true;
  if (duckdb_query(con_, sql, &g.r) != DuckDBSuccess) {
    return Status::Internal(std::string("store: ") + duckdb_result_error(&g.r));
  }
  return Status::OK();
}

Status EventStore::Execute(const std::string& sql) {
  std::lock_guard<std::mutex> lock(mu_);
  return Query(sql.c_str());
}

Result<uint64_t> EventStore::LoadOffset(const std::string& consumer) {
  std::lock_guard<std::mutex> lock(mu_);
  duckdb_prepared_statement stmt;
  if (duckdb_prepare(con_, "SELECT log_offset FROM consumer_offsets WHERE name = $1", &stmt) !=
      DuckDBSuccess) {
    std::string e = duckdb_prepare_error(stmt);
    duckdb_destroy_prepare(&stmt);
    return Status::Internal("store: " + e);
  }
  duckdb_bind_varchar_length(stmt, 1, consumer.data(), consumer.size());
  ResultGuard g;
  g.live = true;
  duckdb_state st = duckdb_execute_prepared(stmt, &g.r);
  duckdb_destroy_prepare(&stmt);
  if (st != DuckDBSuccess)
    return Status::Internal(std::string("store: ") + duckdb_result_error(&g.r));
  if (duckdb_row_count(&g.r) == 0) return static_cast<uint64_t>(0);
  return duckdb_value_uint64(&g.r, 0, 0);
}

Status EventStore::AppendBatch(const std::vector<Event>& events, const std::string& consumer,
                               uint64_t new_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(Query("BEGIN TRANSACTION"));
  auto abort = [&](Status s) {
    Query("ROLLBACK");
    return s;
  };
  duckdb_appender app;
  if (duckdb_appender_create(con_, nullptr, "events", &app) != DuckDBSuccess) {
    std::string e = duckdb_appender_error(app);
    duckdb_appender_destroy(&app);
    return abort(Status::Internal("store: appender: " + e));
  }
  duckdb_logical_type types[kColumns];
  const duckdb_type ids[kColumns] = {
      DUCKDB_TYPE_VARCHAR,   DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_TIMESTAMP,
      DUCKDB_TYPE_TIMESTAMP, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_VARCHAR,
      DUCKDB_TYPE_VARCHAR,   DUCKDB_TYPE_VARCHAR};
  for (int c = 0; c < kColumns; ++c) types[c] = duckdb_create_logical_type(ids[c]);
  const idx_t cap = duckdb_vector_size();
  Status result;
  size_t i = 0;
  while (i < events.size() && result.ok()) {
    duckdb_data_chunk chunk = duckdb_create_data_chunk(types, kColumns);
    duckdb_vector v[kColumns];
    for (int c = 0; c < kColumns; ++c) v[c] = duckdb_data_chunk_get_vector(chunk, c);
    auto* ts = static_cast<int64_t*>(duckdb_vector_get_data(v[3]));
    auto* recv = static_cast<int64_t*>(duckdb_vector_get_data(v[4]));
    idx_t row = 0;
    for (; row < cap && i < events.size(); ++row, ++i) {
      const Event& e = events[i];
      SetString(v[0], row, e.tenant, false);
      SetString(v[1], row, e.event_id, false);
      SetString(v[2], row, e.type, false);
      ts[row] = e.ts_us;
      recv[row] = e.received_at_us;
      SetString(v[5], row, e.user_id, true);
      SetString(v[6], row, e.anonymous_id, true);
      SetString(v[7], row, e.properties, true);
      SetString(v[8], row, e.context, true);
      SetString(v[9], row, e.source, true);
    }
    duckdb_data_chunk_set_size(chunk, row);
    if (duckdb_append_data_chunk(app, chunk) != DuckDBSuccess) {
      result = Status::Internal(std::string("store: append: ") + duckdb_appender_error(app));
    }
    duckdb_destroy_data_chunk(&chunk);
  }
  for (int c = 0; c < kColumns; ++c) duckdb_destroy_logical_type(&types[c]);
  if (result.ok() && duckdb_appender_flush(app) != DuckDBSuccess) {
    result = Status::Internal(std::string("store: flush: ") + duckdb_appender_error(app));
  }
  duckdb_appender_destroy(&app);
  if (!result.ok()) return abort(result);

  duckdb_prepared_statement stmt;
  if (duckdb_prepare(con_, "INSERT OR REPLACE INTO consumer_offsets VALUES ($1, $2)", &stmt) !=
      DuckDBSuccess) {
    std::string e = duckdb_prepare_error(stmt);
    duckdb_destroy_prepare(&stmt);
    return abort(Status::Internal("store: " + e));
  }
  duckdb_bind_varchar_length(stmt, 1, consumer.data(), consumer.size());
  duckdb_bind_uint64(stmt, 2, new_offset);
  {
    ResultGuard g;
    g.live = true;
    duckdb_state st = duckdb_execute_prepared(stmt, &g.r);
    duckdb_destroy_prepare(&stmt);
    if (st != DuckDBSuccess) {
      return abort(Status::Internal(std::string("store: offset: ") + duckdb_result_error(&g.r)));
    }
  }
  if (fail_next_commit_) {
    fail_next_commit_ = false;
    return abort(Status::IOError("injected failure before commit"));
  }
  Status c = Query("COMMIT");
  if (!c.ok()) return abort(c);
  return Status::OK();
}

Result<uint64_t> EventStore::CountEvents(const std::string& tenant) {
  std::lock_guard<std::mutex> lock(mu_);
  duckdb_prepared_statement stmt;
  duckdb_prepare(con_, "SELECT count(*) FROM events WHERE $1 = '' OR tenant = $1", &stmt);
  duckdb_bind_varchar_length(stmt, 1, tenant.data(), tenant.size());
  ResultGuard g;
  g.live = true;
  duckdb_state st = duckdb_execute_prepared(stmt, &g.r);
  duckdb_destroy_prepare(&stmt);
  if (st != DuckDBSuccess)
    return Status::Internal(std::string("store: ") + duckdb_result_error(&g.r));
  return duckdb_value_uint64(&g.r, 0, 0);
}

Status EventStore::ForEachEventId(
    const std::string& tenant, const std::function<void(std::string_view, std::string_view)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  duckdb_prepared_statement stmt;
  if (duckdb_prepare(con_, "SELECT tenant, event_id FROM events WHERE $1 = '' OR tenant = $1",
                     &stmt) != DuckDBSuccess) {
    std::string e = duckdb_prepare_error(stmt);
    duckdb_destroy_prepare(&stmt);
    return Status::Internal("store: " + e);
  }
  duckdb_bind_varchar_length(stmt, 1, tenant.data(), tenant.size());
  duckdb_pending_result pending;
  // Streaming, so the result is produced chunk by chunk instead of materialized.
  if (duckdb_pending_prepared_streaming(stmt, &pending) != DuckDBSuccess) {
    std::string e = duckdb_pending_error(pending);
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&stmt);
    return Status::Internal("store: " + e);
  }
  ResultGuard g;
  g.live = true;
  duckdb_state st = duckdb_execute_pending(pending, &g.r);
  duckdb_destroy_pending(&pending);
  duckdb_destroy_prepare(&stmt);
  if (st != DuckDBSuccess)
    return Status::Internal(std::string("store: ") + duckdb_result_error(&g.r));
  while (duckdb_data_chunk chunk = duckdb_fetch_chunk(g.r)) {
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    if (n == 0) {
      duckdb_destroy_data_chunk(&chunk);
      break;
    }
    auto* tenants = static_cast<duckdb_string_t*>(
        duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0)));
    auto* ids = static_cast<duckdb_string_t*>(
        duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 1)));
    for (idx_t r = 0; r < n; ++r) {
      fn(std::string_view(duckdb_string_t_data(&tenants[r]), duckdb_string_t_length(tenants[r])),
         std::string_view(duckdb_string_t_data(&ids[r]), duckdb_string_t_length(ids[r])));
    }
    duckdb_destroy_data_chunk(&chunk);
  }
  return Status::OK();
}

}  // namespace sluice
