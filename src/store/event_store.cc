// EventStore (event_store.h): schema, and batches appended as whole data chunks inside one
// transaction with their consumer offset.
#include "store/event_store.h"

#include <algorithm>

#include "store/events_view.h"
#include "store/type_ranges.h"
#include "store/user_key.h"
#include "store/user_projection.h"

namespace sluice {

namespace {

// events_hot is the hot tier; the `events` view that queries see (events_view.h) adds
// the archived hours. archive_hours/archive_files record the Parquet tier (archiver.h):
// a file is part of the archive only once a row here names it, so recording a file and
// deleting the hot rows it covers is one DuckDB transaction.
//
// event_id, user_id and properties are FSST-compressed by fiat: DuckDB would otherwise
// analyse every segment for dictionary compression too, only to pick FSST for them
// anyway (ids are unique, users and properties nearly so within a row group). Skipping
// that analysis cut the store consumer's CPU per row by 15-18% at the same bytes per row
// (bench/store_throughput.cc, bench/README.md "Store consumer"). Low-cardinality columns
// keep DuckDB's choice (dictionary/RLE). Tables made before keep their compression.
//
// events_by_user (user_projection.h) has the same columns, in the same order.
constexpr const char* kHotColumnsDdl =
    "(tenant VARCHAR NOT NULL, event_id VARCHAR NOT NULL USING COMPRESSION fsst,"
    " type VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL,"
    " user_id VARCHAR USING COMPRESSION fsst, anonymous_id VARCHAR,"
    " properties JSON USING COMPRESSION fsst, context JSON, source VARCHAR,"
    " log_offset UBIGINT NOT NULL DEFAULT 0, user_key UINTEGER);";
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS consumer_offsets (name VARCHAR PRIMARY KEY, log_offset UBIGINT);"
    // Stores from before mid-record positions (ConsumerPosition) get the column here.
    "ALTER TABLE consumer_offsets ADD COLUMN IF NOT EXISTS rows_applied UBIGINT DEFAULT 0;"
    "CREATE TABLE IF NOT EXISTS archive_hours (tenant VARCHAR NOT NULL, hour TIMESTAMP NOT NULL,"
    " watermark UBIGINT NOT NULL, evicted BOOLEAN NOT NULL DEFAULT false,"
    " rehydrated_at TIMESTAMP, PRIMARY KEY (tenant, hour));"
    "CREATE TABLE IF NOT EXISTS archive_files (tenant VARCHAR NOT NULL, hour TIMESTAMP NOT NULL,"
    " file VARCHAR NOT NULL, rows UBIGINT NOT NULL, bytes UBIGINT NOT NULL,"
    " PRIMARY KEY (tenant, hour, file));"
    // Events a schema refused (SPEC §7), with the error; kept until replayed (dead_letters.h).
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " tenant VARCHAR NOT NULL, event_id VARCHAR NOT NULL, type VARCHAR NOT NULL,"
    " ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL, user_id VARCHAR,"
    " anonymous_id VARCHAR, properties JSON, context JSON, source VARCHAR,"
    " error VARCHAR NOT NULL, schema_version INTEGER NOT NULL, log_offset UBIGINT NOT NULL,"
    " replayed_at TIMESTAMP);"
    // Pull connectors' durable positions, written with the events they cover.
    "CREATE TABLE IF NOT EXISTS connector_checkpoints (tenant VARCHAR NOT NULL,"
    " connector VARCHAR NOT NULL, checkpoint VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL,"
    " PRIMARY KEY (tenant, connector));";

// Data directories written before the tiers had `events` without log_offset.
constexpr const char* kMigrateV1 =
    "ALTER TABLE events RENAME TO events_hot;"
    "ALTER TABLE events_hot ADD COLUMN log_offset UBIGINT NOT NULL DEFAULT 0;";

// Tables made before user_key (user_key.h) gain it, filled for the rows they hold.
constexpr const char* kMigrateUserKey = "ALTER TABLE events_hot ADD COLUMN user_key UINTEGER;";

// Column positions in `events_hot`, as created above.
enum Column : idx_t {
  kTenant,
  kEventId,
  kType,
  kTs,
  kReceivedAt,
  kUserId,
  kAnonymousId,
  kProperties,
  kContext,
  kSource,
  kLogOffset,
  kUserKey,
  kNumColumns
};

// Optional fields are NULL when absent, so SQL can say `user_id IS NULL`.
void SetOptional(duckdb_vector v, idx_t row, std::string_view s) {
  if (s.empty()) {
    duck::SetNull(v, row);
  } else {
    duck::SetBorrowedString(v, row, s);
  }
}

// Appends rows get(0..n) to `table` (events_hot's columns) inside the caller's
// transaction. Whole data chunks rather than row-by-row appends: no per-value call and
// type dispatch. The chunk types come from the table, so nothing is cast. Strings are
// borrowed from the rows (the appender copies them), which were UTF-8 checked at ingest.
template <typename Get>
Status AppendEvents(duck::Connection& con, const char* table, size_t count, Get get) {
  auto app = duck::Appender::Create(con, table);
  if (!app.ok()) return app.status();
  if (app->column_count() != kNumColumns) {
    return Status::Internal(std::string("store: ") + table + " has " +
                            std::to_string(app->column_count()) + " columns, expected " +
                            std::to_string(kNumColumns));
  }
  const size_t cap = duckdb_vector_size();
  for (size_t i = 0; i < count;) {
    duck::DataChunk chunk = app->NewChunk();
    if (!chunk) return Status::Internal("store: cannot allocate a data chunk");
    duckdb_vector v[kNumColumns];
    for (idx_t c = 0; c < kNumColumns; ++c) v[c] = chunk.column(c);
    auto* ts = static_cast<duckdb_timestamp*>(duckdb_vector_get_data(v[kTs]));
    auto* received = static_cast<duckdb_timestamp*>(duckdb_vector_get_data(v[kReceivedAt]));
    auto* log_offset = static_cast<uint64_t*>(duckdb_vector_get_data(v[kLogOffset]));
    auto* user_key = static_cast<uint32_t*>(duckdb_vector_get_data(v[kUserKey]));
    const size_t n = std::min(cap, count - i);
    for (size_t row = 0; row < n; ++row, ++i) {
      const StoreRow& r = get(i);
      const EventView& e = r.event;
      duck::SetBorrowedString(v[kTenant], row, e.tenant);
      duck::SetBorrowedString(v[kEventId], row, e.event_id);
      duck::SetBorrowedString(v[kType], row, e.type);
      ts[row].micros = e.ts_us;
      received[row].micros = e.received_at_us;
      SetOptional(v[kUserId], row, e.user_id);
      SetOptional(v[kAnonymousId], row, e.anonymous_id);
      SetOptional(v[kProperties], row, e.properties);
      SetOptional(v[kContext], row, e.context);
      SetOptional(v[kSource], row, e.source);
      log_offset[row] = r.log_offset;
      if (e.user_id.empty()) {
        duck::SetNull(v[kUserKey], row);
      } else {
        user_key[row] = UserKey(e.user_id);
      }
    }
    chunk.set_size(n);
    SLUICE_RETURN_IF_ERROR(app->AppendChunk(chunk));
  }
  // Hands the buffered rows to the table inside this transaction; constraint errors
  // surface here.
  return app->Close();
}

}  // namespace

std::vector<StoreRow> RowsOf(const std::vector<Event>& events) {
  std::vector<StoreRow> rows;
  rows.reserve(events.size());
  for (const Event& e : events) rows.push_back({ViewOf(e), e.log_offset});
  return rows;
}

Result<std::optional<uint64_t>> StoreConsumerOffset(duck::Connection& con) {
  auto r = con.Query("SELECT log_offset FROM consumer_offsets WHERE name = 'store'");
  if (!r.ok()) return r.status();
  return r->FirstUInt64();
}

Result<std::optional<ConsumerPosition>> ConsumerPositionOn(duck::Connection& con,
                                                           const std::string& consumer) {
  auto stmt = con.Prepare(
      "SELECT log_offset, coalesce(rows_applied, 0)::UBIGINT FROM consumer_offsets WHERE name = "
      "$1");
  if (!stmt.ok()) return stmt.status();
  SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, consumer));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  Status st;
  duck::DataChunk chunk = r->FetchChunk(&st);
  if (!st.ok()) return st;
  if (!chunk || chunk.size() == 0) return std::optional<ConsumerPosition>();
  const auto* offset = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(0)));
  const auto* rows = static_cast<const uint64_t*>(duckdb_vector_get_data(chunk.column(1)));
  return std::optional<ConsumerPosition>(ConsumerPosition{offset[0], rows[0]});
}

Result<std::optional<ConsumerPosition>> StoreConsumerPosition(duck::Connection& con) {
  return ConsumerPositionOn(con, "store");
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const std::string& path,
                                                     const EventStoreOptions& options) {
  // The binary must work offline: never download an extension. JSON and Parquet are
  // compiled into the bundled libduckdb.
  std::vector<std::pair<std::string, std::string>> settings = {
      {"autoinstall_known_extensions", "false"}};
  if (options.threads > 0) settings.emplace_back("threads", std::to_string(options.threads));
  if (options.memory_limit_bytes > 0) {
    settings.emplace_back("memory_limit", std::to_string(options.memory_limit_bytes) + "B");
  }
  if (options.checkpoint_bytes > 0) {
    settings.emplace_back("checkpoint_threshold", std::to_string(options.checkpoint_bytes) + "B");
  }
  auto db = duck::Database::Open(path, settings);
  if (!db.ok()) return db.status();
  std::unique_ptr<EventStore> store(new EventStore());
  store->db_ = std::move(*db);
  store->archive_root_ = options.archive_root;
  store->user_projection_ = options.user_projection;
  store->fixed_threads_ = options.threads;
  SLUICE_RETURN_IF_ERROR(store->Init());
  for (const auto& [alias, file] : options.attach) {
    SLUICE_RETURN_IF_ERROR(
        store->con_.Exec("ATTACH IF NOT EXISTS " + SqlQuote(file) + " AS " + alias));
  }
  if (!options.file_roots.empty()) SLUICE_RETURN_IF_ERROR(store->RestrictFiles(options.file_roots));
  return store;
}

EventStore::~EventStore() = default;

Status EventStore::Init() {
  auto con = duck::Connection::Open(db_);
  if (!con.ok()) return con.status();
  con_ = std::move(*con);
  auto old = QueryUInt64(
      "SELECT count(*)::UBIGINT FROM duckdb_tables() WHERE schema_name = 'main' AND "
      "table_name = 'events'",
      nullptr);
  if (!old.ok()) return old.status();
  if (*old > 0) SLUICE_RETURN_IF_ERROR(con_.Exec(kMigrateV1));
  auto keyless = QueryUInt64(
      "SELECT count(*)::UBIGINT FROM duckdb_tables() t WHERE t.schema_name = 'main' AND "
      "t.table_name = 'events_hot' AND NOT EXISTS (SELECT 1 FROM duckdb_columns() c WHERE "
      "c.schema_name = 'main' AND c.table_name = 'events_hot' AND c.column_name = 'user_key')",
      nullptr);
  if (!keyless.ok()) return keyless.status();
  if (*keyless > 0) {
    SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
    Status s = con_.Exec(kMigrateUserKey);
    if (s.ok()) s = FillUserKeys(con_, "true");
    if (s.ok()) s = con_.Exec("COMMIT");
    if (!s.ok()) {
      (void)con_.Exec("ROLLBACK");
      return s;
    }
  }
  SLUICE_RETURN_IF_ERROR(
      con_.Exec(std::string("CREATE TABLE IF NOT EXISTS events_hot ") + kHotColumnsDdl));
  SLUICE_RETURN_IF_ERROR(con_.Exec(kSchema));
  // Before the first batch can widen them (type_ranges.h).
  SLUICE_RETURN_IF_ERROR(RefreshTypeRangesIfStale(con_, archive_root_, &type_ranges_rebuilt_));
  if (!user_projection_) {
    // Turned off: a projection left from before would go stale, and turning it back on
    // starts over from an empty one.
    return con_.Exec("DROP TABLE IF EXISTS events_by_user; DROP TABLE IF EXISTS user_projection");
  }
  SLUICE_RETURN_IF_ERROR(
      con_.Exec(std::string("CREATE TABLE IF NOT EXISTS events_by_user ") + kHotColumnsDdl +
                "CREATE TABLE IF NOT EXISTS user_projection (through TIMESTAMP NOT NULL);"));
  auto p = LoadProjectedUntil(con_);
  if (!p.ok()) return p.status();
  projected_until_ = *p;
  // A step that crashed between its copy and the move of P left rows at or past P.
  return DeleteFromProjection(con_, *p ? "ts >= " + SqlTimestamp(**p) : "true");
}

Status EventStore::RestrictFiles(const std::vector<std::string>& roots) {
  // Set at runtime, not in the open config: at open DuckDB replaces allowed_directories
  // with its own spill directory, while SET adds to that list (measured on 1.4.4). The
  // trailing slash keeps "archive" from also allowing "archive2".
  std::string list;
  for (const auto& r : roots) {
    if (!list.empty()) list += ", ";
    std::string dir = r;
    if (dir.empty() || dir.back() != '/') dir.push_back('/');
    list += SqlQuote(dir);
  }
  SLUICE_RETURN_IF_ERROR(con_.Exec("SET allowed_directories = [" + list + "]"));
  return con_.Exec("SET enable_external_access = false");
}

Result<uint64_t> EventStore::QueryUInt64(const char* sql, const std::string* param) {
  auto stmt = con_.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (param != nullptr) SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, *param));
  auto r = stmt->Execute();
  if (!r.ok()) return r.status();
  auto v = r->FirstUInt64();
  if (!v.ok()) return v.status();
  return v->value_or(0);
}

Result<uint64_t> EventStore::LoadOffset(const std::string& consumer) {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryUInt64("SELECT log_offset FROM consumer_offsets WHERE name = $1", &consumer);
}

Result<ConsumerPosition> EventStore::LoadPosition(const std::string& consumer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = ConsumerPositionOn(con_, consumer);
  if (!p.ok()) return p.status();
  return p->value_or(ConsumerPosition{});
}

Status EventStore::AppendBatch(const std::vector<Event>& events, const std::string& consumer,
                               uint64_t new_offset) {
  return AppendBatch(events, {}, consumer, new_offset);
}

Status EventStore::AppendBatch(const std::vector<Event>& events,
                               const std::vector<ConnectorCheckpoint>& checkpoints,
                               const std::string& consumer, uint64_t new_offset,
                               const std::vector<RejectedEvent>& dead_letters) {
  return AppendRows(RowsOf(events), checkpoints, consumer, {new_offset, 0}, dead_letters);
}

Status EventStore::AppendRows(const std::vector<StoreRow>& rows,
                              const std::vector<ConnectorCheckpoint>& checkpoints,
                              const std::string& consumer, ConsumerPosition position,
                              const std::vector<RejectedEvent>& dead_letters) {
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
  Status s = WriteBatch(rows, checkpoints, consumer, position);
  if (s.ok() && !dead_letters.empty()) s = WriteDeadLetters(dead_letters);
  if (s.ok() && before_commit_hook_) s = before_commit_hook_();
  if (s.ok()) s = con_.Exec("COMMIT");
  if (!s.ok()) {
    // After a failed statement DuckDB has already aborted the transaction and this
    // ROLLBACK reports "no transaction is active"; either way none of it is visible.
    (void)con_.Exec("ROLLBACK");
  }
  return s;
}

Status EventStore::WriteBatch(const std::vector<StoreRow>& rows,
                              const std::vector<ConnectorCheckpoint>& checkpoints,
                              const std::string& consumer, ConsumerPosition position) {
  if (!rows.empty()) {
    SLUICE_RETURN_IF_ERROR(AppendEvents(con_, "events_hot", rows.size(),
                                        [&](size_t i) -> const StoreRow& { return rows[i]; }));
    // Late events for days already projected go to the projection too (user_projection.h).
    if (projected_until_) {
      std::vector<const StoreRow*> late;
      for (const StoreRow& r : rows) {
        if (r.event.ts_us < *projected_until_) late.push_back(&r);
      }
      if (!late.empty()) {
        SLUICE_RETURN_IF_ERROR(AppendEvents(con_, "events_by_user", late.size(),
                                            [&](size_t i) -> const StoreRow& { return *late[i]; }));
      }
    }
  }
  // Only the newest checkpoint per connector matters; one upsert each.
  std::vector<const ConnectorCheckpoint*> newest;
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    bool seen = false;
    for (const ConnectorCheckpoint* n : newest) {
      seen |= n->tenant == it->tenant && n->connector == it->connector;
    }
    if (!seen) newest.push_back(&*it);
  }
  if (!newest.empty()) {
    // All of them in one statement: DuckDB's fixed cost per statement dwarfs the rows.
    if (checkpoint_upsert_rows_ != newest.size()) {
      std::string sql = "INSERT OR REPLACE INTO connector_checkpoints VALUES ";
      for (size_t i = 0; i < newest.size(); ++i) {
        if (i > 0) sql += ", ";
        sql += "($" + std::to_string(3 * i + 1) + ", $" + std::to_string(3 * i + 2) + ", $" +
               std::to_string(3 * i + 3) + ", now()::TIMESTAMP)";
      }
      checkpoint_upsert_rows_ = 0;
      auto up = con_.Prepare(sql);
      if (!up.ok()) return up.status();
      checkpoint_upsert_ = std::move(*up);
      checkpoint_upsert_rows_ = newest.size();
    }
    for (size_t i = 0; i < newest.size(); ++i) {
      const ConnectorCheckpoint& cp = *newest[i];
      SLUICE_RETURN_IF_ERROR(checkpoint_upsert_.BindVarchar(3 * i + 1, cp.tenant));
      SLUICE_RETURN_IF_ERROR(checkpoint_upsert_.BindVarchar(3 * i + 2, cp.connector));
      SLUICE_RETURN_IF_ERROR(checkpoint_upsert_.BindVarchar(3 * i + 3, cp.checkpoint));
    }
    auto r = checkpoint_upsert_.Execute();
    if (!r.ok()) return r.status();
  }
  if (!offset_upsert_) {
    auto stmt = con_.Prepare(
        "INSERT OR REPLACE INTO consumer_offsets (name, log_offset, rows_applied) "
        "VALUES ($1, $2, $3)");
    if (!stmt.ok()) return stmt.status();
    offset_upsert_ = std::move(*stmt);
  }
  SLUICE_RETURN_IF_ERROR(offset_upsert_.BindVarchar(1, consumer));
  SLUICE_RETURN_IF_ERROR(offset_upsert_.BindUInt64(2, position.log_offset));
  SLUICE_RETURN_IF_ERROR(offset_upsert_.BindUInt64(3, position.rows_applied));
  // In this transaction, so that no snapshot holds a row outside its type's range, and
  // the ranges' recorded position moves with the consumer's (type_ranges.h).
  SLUICE_RETURN_IF_ERROR(
      WidenTypeRanges(con_, rows, consumer, position.log_offset, position.rows_applied));
  auto r = offset_upsert_.Execute();
  return r.ok() ? Status::OK() : r.status();
}

// Row by row: dead letters are the exception, and a prepared INSERT keeps this short.
Status EventStore::WriteDeadLetters(const std::vector<RejectedEvent>& dead_letters) {
  auto stmt = con_.Prepare(
      "INSERT INTO dead_letters VALUES ($1, $2, $3, make_timestamp($4), make_timestamp($5),"
      " nullif($6, ''), nullif($7, ''), nullif($8, '')::JSON, nullif($9, '')::JSON,"
      " nullif($10, ''), $11, $12, $13, NULL)");
  if (!stmt.ok()) return stmt.status();
  for (const RejectedEvent& r : dead_letters) {
    const Event& e = r.event;
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, e.tenant));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(2, e.event_id));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(3, e.type));
    SLUICE_RETURN_IF_ERROR(stmt->BindInt64(4, e.ts_us));
    SLUICE_RETURN_IF_ERROR(stmt->BindInt64(5, e.received_at_us));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(6, e.user_id));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(7, e.anonymous_id));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(8, e.properties));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(9, e.context));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(10, e.source));
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(11, r.error));
    SLUICE_RETURN_IF_ERROR(stmt->BindInt64(12, r.schema_version));
    SLUICE_RETURN_IF_ERROR(stmt->BindUInt64(13, e.log_offset));
    auto res = stmt->Execute();
    if (!res.ok()) return res.status();
  }
  return Status::OK();
}

Result<EventStore::StoredBytes> EventStore::StoredBytesByTenant(const std::string& consumer) {
  auto con = duck::Connection::Open(db_);
  if (!con.ok()) return con.status();
  // One read transaction for the offset and the sums: a batch committed between two
  // autocommit statements would be in one and not the other, and the quota would forget
  // or double its bytes.
  SLUICE_RETURN_IF_ERROR(con->Exec("BEGIN TRANSACTION"));
  Result<StoredBytes> out = SumStoredBytes(*con, consumer);
  (void)con->Exec(out.ok() ? "COMMIT" : "ROLLBACK");
  return out;
}

Result<EventStore::StoredBytes> EventStore::SumStoredBytes(duck::Connection& con,
                                                           const std::string& consumer) {
  StoredBytes out;
  {
    auto stmt = con.Prepare("SELECT log_offset FROM consumer_offsets WHERE name = $1");
    if (!stmt.ok()) return stmt.status();
    SLUICE_RETURN_IF_ERROR(stmt->BindVarchar(1, consumer));
    auto r = stmt->Execute();
    if (!r.ok()) return r.status();
    auto v = r->FirstUInt64();
    if (!v.ok()) return v.status();
    out.consumer_offset = v->value_or(0);
  }
  // strlen, not octet_length: DuckDB's octet_length takes only BLOB and BIT, and strlen
  // is the byte (not character) length of a VARCHAR.
  auto r = con.Query(
      "SELECT tenant, sum(b)::UBIGINT FROM ("
      " SELECT tenant, sum(strlen(event_id) + strlen(type) + 16"
      "  + coalesce(strlen(user_id), 0) + coalesce(strlen(anonymous_id), 0)"
      "  + coalesce(strlen(properties::VARCHAR), 0)"
      "  + coalesce(strlen(context::VARCHAR), 0)) AS b FROM events_hot GROUP BY tenant"
      " UNION ALL SELECT f.tenant, sum(f.bytes) FROM archive_files f JOIN archive_hours h"
      "  USING (tenant, hour) WHERE h.evicted GROUP BY f.tenant"
      // Pending dead letters are stored too: without them a tenant could fill the disk
      // with events its own schema refuses. A replayed one is counted as its event.
      " UNION ALL SELECT tenant, sum(strlen(event_id) + strlen(type) + 16"
      "  + coalesce(strlen(user_id), 0) + coalesce(strlen(anonymous_id), 0)"
      "  + coalesce(strlen(properties::VARCHAR), 0)"
      "  + coalesce(strlen(context::VARCHAR), 0) + strlen(error))"
      "  FROM dead_letters WHERE replayed_at IS NULL GROUP BY tenant) GROUP BY tenant");
  if (!r.ok()) return r.status();
  Status st;
  while (true) {
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk || chunk.size() == 0) break;
    auto* bytes = static_cast<uint64_t*>(duckdb_vector_get_data(chunk.column(1)));
    for (idx_t row = 0; row < chunk.size(); ++row) {
      out.by_tenant.emplace_back(std::string(duck::GetString(chunk.column(0), row)), bytes[row]);
    }
  }
  return out;
}

Result<std::vector<EventStore::StoredCheckpoint>> EventStore::LoadConnectorCheckpoints() {
  std::lock_guard<std::mutex> lock(mu_);
  auto r = con_.Query(
      "SELECT tenant, connector, checkpoint, epoch_us(updated_at) FROM connector_checkpoints "
      "ORDER BY tenant, connector");
  if (!r.ok()) return r.status();
  std::vector<StoredCheckpoint> out;
  Status st;
  while (true) {
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!chunk || chunk.size() == 0) break;
    auto* updated = static_cast<int64_t*>(duckdb_vector_get_data(chunk.column(3)));
    for (idx_t i = 0; i < chunk.size(); ++i) {
      StoredCheckpoint s;
      s.checkpoint.tenant = std::string(duck::GetString(chunk.column(0), i));
      s.checkpoint.connector = std::string(duck::GetString(chunk.column(1), i));
      s.checkpoint.checkpoint = std::string(duck::GetString(chunk.column(2), i));
      s.updated_at_us = updated[i];
      out.push_back(std::move(s));
    }
  }
  if (!st.ok()) return st;
  return out;
}

Result<uint64_t> EventStore::CountEvents(const std::string& tenant_or_empty) {
  uint64_t n = 0;
  SLUICE_RETURN_IF_ERROR(WithEventsView(
      tenant_or_empty, [&](duck::Connection& con, const std::string& view) -> Status {
        auto r = con.Query("SELECT count(*)::UBIGINT FROM (" + view + ")");
        if (!r.ok()) return r.status();
        auto v = r->FirstUInt64();
        if (!v.ok()) return v.status();
        n = v->value_or(0);
        return Status::OK();
      }));
  return n;
}

Status EventStore::ForEachEventId(
    const std::string& tenant_or_empty,
    const std::function<void(std::string_view tenant, std::string_view id)>& fn) {
  return WithEventsView(tenant_or_empty,
                        [&](duck::Connection& con, const std::string& view) -> Status {
                          auto stmt = con.Prepare("SELECT tenant, event_id FROM (" + view + ")");
                          if (!stmt.ok()) return stmt.status();
                          auto result = stmt->ExecuteStreaming();
                          if (!result.ok()) return result.status();
                          while (true) {
                            Status st;
                            duck::DataChunk chunk = result->FetchChunk(&st);
                            if (!st.ok()) return st;
                            if (!chunk) return Status::OK();
                            duckdb_vector tenants = chunk.column(0);
                            duckdb_vector ids = chunk.column(1);
                            const idx_t n = chunk.size();
                            for (idx_t row = 0; row < n; ++row) {
                              fn(duck::GetString(tenants, row), duck::GetString(ids, row));
                            }
                          }
                        });
}

namespace {

// Runs fn on a fresh connection inside one read transaction, with the view's SELECT for
// `tenant_or_empty` and the hot branch `hot` decides (see WithEventsView).
Status RunInView(
    const duck::Database& db, const std::string& archive_root, const std::string& tenant_or_empty,
    const std::function<Result<HotBranch>(duck::Connection& con)>& hot,
    const std::function<Status(duck::Connection& con, const std::string& view_sql)>& fn) {
  auto con = duck::Connection::Open(db);
  if (!con.ok()) return con.status();
  // One transaction: the file list read for the view and the rows the query reads come
  // from the same snapshot, so a move between tiers is seen either before or after.
  SLUICE_RETURN_IF_ERROR(con->Exec("BEGIN TRANSACTION"));
  Status s = [&]() -> Status {
    auto branch = hot(*con);
    if (!branch.ok()) return branch.status();
    auto view = EventsViewSql(*con, archive_root, tenant_or_empty, *branch);
    if (!view.ok()) return view.status();
    return fn(*con, *view);
  }();
  (void)con->Exec(s.ok() ? "COMMIT" : "ROLLBACK");
  return s;
}

// The single BIGINT of `sql`'s first row; empty when it has none or it is NULL.
Result<std::optional<int64_t>> QueryInt64(duck::Connection& con, const std::string& sql) {
  auto r = con.Query(sql);
  if (!r.ok()) return r.status();
  return r->FirstInt64();
}

}  // namespace

Status EventStore::WithEventsView(
    const std::string& tenant_or_empty,
    const std::function<Status(duck::Connection& con, const std::string& view_sql)>& fn) {
  // A connection of its own: results may stream while fn runs, and con_ must remain free
  // for the consumer's batches meanwhile. The shared lock keeps the archive's files from
  // being deleted under the query (archiver.h takes it exclusively to unlink).
  std::shared_lock<std::shared_mutex> files(archive_files_mu_);
  return RunInView(
      db_, archive_root_, tenant_or_empty,
      [](duck::Connection&) -> Result<HotBranch> { return HotBranch{}; }, fn);
}

Status EventStore::WithUserEventsView(
    const std::string& tenant, const std::string& user_filter,
    const std::function<Status(duck::Connection& con, const std::string& view_sql)>& fn) {
  std::shared_lock<std::shared_mutex> files(archive_files_mu_);
  return RunInView(
      db_, archive_root_, tenant,
      [&](duck::Connection& con) -> Result<HotBranch> {
        HotBranch hot{user_filter, std::nullopt};
        if (!user_projection_) return hot;
        // P in this snapshot: the rows below it are the same in both tables here.
        auto p = LoadProjectedUntil(con);
        if (!p.ok()) return p.status();
        hot.projected_until = *p;
        return hot;
      },
      fn);
}

Result<bool> EventStore::ProjectNextDay(int64_t now_us, int64_t grace_us) {
  if (!user_projection_) return false;
  // Days that ended by then are complete enough to sort; later arrivals are copied one by
  // one by AppendBatch.
  const int64_t limit = FloorProjectionDay(now_us - grace_us);
  auto con = duck::Connection::Open(db_);
  if (!con.ok()) return con.status();
  std::optional<int64_t> from, to;
  uint64_t fence = 0;
  auto range = [&] {
    return (from ? "ts >= " + SqlTimestamp(*from) + " AND " : std::string()) + "ts < " +
           SqlTimestamp(*to);
  };
  // The bulk copy, in a snapshot of its own: batches keep committing meanwhile, and those
  // with rows in the day are the ones the second part copies.
  SLUICE_RETURN_IF_ERROR(con->Exec("BEGIN TRANSACTION"));
  Status s = [&]() -> Status {
    auto p = LoadProjectedUntil(*con);
    if (!p.ok()) return p.status();
    from = *p;
    const std::string at_or_past_p = from ? "ts >= " + SqlTimestamp(*from) : "true";
    auto first = QueryInt64(*con, "SELECT epoch_us(min(ts)) FROM events_hot WHERE " + at_or_past_p);
    if (!first.ok()) return first.status();
    // Nothing between P and the first day with rows: P jumps there without a copy.
    const int64_t next = *first ? FloorProjectionDay(**first) + kProjectionDayUs : limit;
    if (next > limit || (from && next <= *from)) return Status::OK();
    to = next;
    // What an earlier step copied before failing or crashing short of moving P. Only when
    // a step runs: an idle pass writes nothing.
    SLUICE_RETURN_IF_ERROR(DeleteFromProjection(*con, at_or_past_p));
    // Rows below the store consumer's offset are whole records; every batch that commits
    // after this snapshot has rows at or past it, the rest of a record the consumer split
    // included (ConsumerPosition). Those are the second phase's.
    auto store_at = StoreConsumerOffset(*con);
    if (!store_at.ok()) return store_at.status();
    auto top = QueryInt64(*con, "SELECT (max(log_offset) + 1)::BIGINT FROM events_hot");
    if (!top.ok()) return top.status();
    fence = store_at->value_or(static_cast<uint64_t>(top->value_or(0)));
    return CopyToProjection(*con, range() + " AND log_offset < " + std::to_string(fence));
  }();
  if (s.ok()) s = con->Exec("COMMIT");
  if (!s.ok()) {
    (void)con->Exec("ROLLBACK");
    return s;
  }
  if (!to) return false;
  if (between_projection_phases_hook_) SLUICE_RETURN_IF_ERROR(between_projection_phases_hook_());

  std::lock_guard<std::mutex> lock(mu_);
  if (projected_until_ != from) {
    return Status::Internal("user projection: P moved during a step; steps must not overlap");
  }
  SLUICE_RETURN_IF_ERROR(con_.Exec("BEGIN TRANSACTION"));
  s = CopyToProjection(con_, range() + " AND log_offset >= " + std::to_string(fence));
  if (s.ok()) {
    s = con_.Exec("DELETE FROM user_projection; INSERT INTO user_projection VALUES (" +
                  SqlTimestamp(*to) + ")");
  }
  if (s.ok()) s = con_.Exec("COMMIT");
  if (!s.ok()) {
    (void)con_.Exec("ROLLBACK");
    return s;
  }
  projected_until_ = to;
  return true;
}

Status EventStore::Execute(const std::string& sql) {
  std::lock_guard<std::mutex> lock(mu_);
  return con_.Exec(sql);
}

Status EventStore::SetThreads(int threads) {
  return Execute(threads > 0 ? "SET threads = " + std::to_string(threads) : "RESET threads");
}

}  // namespace sluice
