// EventStore: the embedded DuckDB database (data_dir/sluice.duckdb) that holds events
// (SPEC §4 "store").
//
// Rows arrive only from the log, through StoreConsumer, in batches. Each batch commits
// together with the consumer's log offset in one DuckDB transaction, so after a crash at
// any point the consumer resumes from exactly the offset whose rows are in the table:
// nothing is lost or doubled (SPEC §1.1-1.2). Measured on DuckDB 1.4.4: an Appender on a
// connection inside BEGIN ... COMMIT writes into that transaction (ROLLBACK removes its
// rows, a killed process leaves none), and a failed append or statement aborts the
// transaction, after which COMMIT silently rolls back instead of failing, so every step's
// status is checked before COMMIT.
//
// properties/context are JSON columns. DuckDB's JSON type is VARCHAR with an alias and
// the Appender does not parse it, so it costs nothing over VARCHAR on append; validity
// comes from the ingest path, which stores minified JSON it has parsed itself.
//
// Statements are prepared per call, never kept: DuckDB 1.4.4 optimizes a prepared plan
// with the table statistics of its preparation time, so a kept `SELECT count(*)` goes on
// returning the old count after appends (duckdb/duckdb#21207, fixed after 1.4.4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ingest/connector_batch.h"
#include "ingest/envelope_parser.h"  // RejectedEvent
#include "ingest/event.h"
#include "ingest/event_codec.h"  // EventView
#include "store/duckdb_handle.h"

namespace sluice {

// One row of events_hot: an event's fields as views, plus the offset of the log record
// that carried it (0 for rows from elsewhere). The views must outlive AppendRows.
struct StoreRow {
  EventView event;
  uint64_t log_offset = 0;
};

// Views of `events`, which must outlive them.
std::vector<StoreRow> RowsOf(const std::vector<Event>& events);

// Where a consumer of the log stands in the store: every record before `log_offset` is
// applied, and so are the first `rows_applied` events of the record at `log_offset`. The
// second part lets the store consumer end a transaction inside a record, on a DuckDB
// row-group boundary (store_consumer.h); readers that only need "everything before" use
// `log_offset` alone.
struct ConsumerPosition {
  uint64_t log_offset = 0;
  uint64_t rows_applied = 0;
  bool operator==(const ConsumerPosition&) const = default;
};

// The store consumer's committed log_offset (consumer_offsets), read on `con` inside the
// caller's transaction; nullopt before its first commit. Readers of "every record before
// it is stored" (the archiver's cap, the user projection's fence, the rollup backfill's
// start) read it here, each choosing what an absent offset means for it.
Result<std::optional<uint64_t>> StoreConsumerOffset(duck::Connection& con);
// `consumer`'s committed position, read on `con` in the caller's snapshot; nullopt before
// its first commit.
Result<std::optional<ConsumerPosition>> ConsumerPositionOn(duck::Connection& con,
                                                           const std::string& consumer);
// The store consumer's: where the log's tail that the store does not hold yet begins
// (log_tail_search.h).
Result<std::optional<ConsumerPosition>> StoreConsumerPosition(duck::Connection& con);

struct EventStoreOptions {
  // DuckDB worker threads; 0 = DuckDB's default (all cores). Commits checkpoint on these
  // threads, and their spin-waiting costs appends when the cores are oversubscribed.
  int threads = 0;
  // DuckDB's buffer-pool limit; 0 = its default.
  uint64_t memory_limit_bytes = 0;
  // WAL size that triggers DuckDB's automatic checkpoint (its checkpoint_threshold). At
  // DuckDB's 16 MiB default a busy store checkpoints about once per row group, and each
  // checkpoint re-reads and recompresses the partly filled one: store_bench measured
  // 99K rows/s at 16 MiB against 142K at 64 MiB and 168K at 128 MiB, with the same peak
  // RSS and 13% smaller files; serve spends 14 instead of 16-19 µs of CPU per event. The
  // cost is WAL replay at start-up (about a second at 128 MiB).
  uint64_t checkpoint_bytes = 128ull << 20;
  // Root of the Parquet tier (data_dir/archive); paths in archive_files are relative to it.
  std::string archive_root;
  // When non-empty, DuckDB may open files only under these directories (absolute paths),
  // besides its own database, WAL and spill files: enable_external_access=false with
  // allowed_directories, set once at open and impossible to re-enable while it runs. A
  // defence in depth for user SQL (sql_query.h): even a query that got past the guard
  // cannot read /etc/passwd or write outside the archive.
  std::vector<std::string> file_roots;
  // Keep events_by_user, the hot days sorted by user (user_projection.h). Off drops it.
  bool user_projection = true;
  // Other database files opened in this DuckDB instance, as (alias, path), created when
  // missing. Attached before file access is restricted, since ATTACH opens a file. Each
  // has its own WAL and checkpoints: the rollups keep theirs apart (rollup_table.h) so
  // that this file's checkpoints, which hold every writer of the file for up to a second
  // or two under load, do not hold the metrics back (SPEC §1.7).
  std::vector<std::pair<std::string, std::string>> attach;
};

class EventStore {
 public:
  // Opens or creates the database file at `path` and the schema in it.
  static Result<std::unique_ptr<EventStore>> Open(const std::string& path,
                                                  const EventStoreOptions& options = {});
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // The committed log offset of `consumer`; 0 if it never committed.
  Result<uint64_t> LoadOffset(const std::string& consumer);
  // The same with the rows applied of the record at that offset.
  Result<ConsumerPosition> LoadPosition(const std::string& consumer);
  // Appends `events` and sets `consumer`'s offset to `new_offset` in one transaction:
  // on any error neither the rows nor the offset are visible, now or after a restart.
  // `dead_letters` (events a schema refused) go to the dead_letters table in the same
  // transaction.
  Status AppendBatch(const std::vector<Event>& events, const std::string& consumer,
                     uint64_t new_offset);
  // The same, also upserting pull-connector checkpoints into connector_checkpoints in that
  // transaction: a checkpoint is durable in DuckDB exactly when the events it covers are,
  // and survives the log segments that carried it being collected (SPEC §1.5). Dead
  // letters (events a schema refused) go to the dead_letters table in it too.
  Status AppendBatch(const std::vector<Event>& events,
                     const std::vector<ConnectorCheckpoint>& checkpoints,
                     const std::string& consumer, uint64_t new_offset,
                     const std::vector<RejectedEvent>& dead_letters = {});
  // The same for rows that point into memory the caller keeps (StoreConsumer: the log
  // records' payloads), so that no event is copied into an Event on the way to DuckDB.
  // `position` may end inside a record (ConsumerPosition).
  Status AppendRows(const std::vector<StoreRow>& rows,
                    const std::vector<ConnectorCheckpoint>& checkpoints,
                    const std::string& consumer, ConsumerPosition position,
                    const std::vector<RejectedEvent>& dead_letters = {});
  // Checkpoints committed so far (tenant, connector, checkpoint) with updated_at_us.
  struct StoredCheckpoint {
    ConnectorCheckpoint checkpoint;
    int64_t updated_at_us = 0;
  };
  Result<std::vector<StoredCheckpoint>> LoadConnectorCheckpoints();
  // Events of `tenant` in both tiers, or of all tenants when it is empty.
  Result<uint64_t> CountEvents(const std::string& tenant_or_empty);
  // Streams (tenant, event_id) of every stored event of `tenant_or_empty` (all tenants
  // when empty), hot and archived, each once, chunk by chunk in constant memory, on its
  // own connection and snapshot so it neither blocks nor sees concurrent batches. The
  // views live until fn returns.
  Status ForEachEventId(
      const std::string& tenant_or_empty,
      const std::function<void(std::string_view tenant, std::string_view id)>& fn);
  // Bytes each tenant stores (SPEC §7 quotas): its hot rows' text sizes plus the Parquet
  // files of its evicted hours (archived hours still hot count once, as rows) plus its
  // pending dead letters (with their error text). One scan of the hot table: run it every
  // few seconds, not per request. `consumer_offset` is `consumer`'s committed offset, read
  // in the same transaction and snapshot as the sums: they cover exactly the log records
  // below it (StorageMeter::Replace keeps what ingest added past it).
  struct StoredBytes {
    std::vector<std::pair<std::string, uint64_t>> by_tenant;
    uint64_t consumer_offset = 0;
  };
  Result<StoredBytes> StoredBytesByTenant(const std::string& consumer);
  // Runs SQL that returns nothing (maintenance, tests).
  Status Execute(const std::string& sql);
  // DuckDB's threads for the whole instance (every connection: store, rollups, queries)
  // from now on; 0 = DuckDB's default, all cores. The store consumer narrows them to one
  // while it is saturated (store_consumer.h says why), unless they were set at open.
  Status SetThreads(int threads);
  // EventStoreOptions::threads: > 0 when the threads were set by hand.
  int fixed_threads() const { return fixed_threads_; }
  // Whether this open rebuilt the type ranges (type_ranges.h): on a first start or after
  // another binary wrote rows, never on an ordinary restart.
  bool type_ranges_rebuilt() const { return type_ranges_rebuilt_; }

  // Runs fn on a fresh connection inside one read transaction, with `view_sql` the SELECT
  // of the `events` view for `tenant_or_empty` (events_view.h) in that transaction's
  // snapshot. Archive files stay on disk until fn returns. Every reader of events —
  // search, SQL, export-ids — goes through here, so each counts an event exactly once
  // wherever it lives, also while an hour moves between tiers.
  Status WithEventsView(
      const std::string& tenant_or_empty,
      const std::function<Status(duck::Connection& con, const std::string& view_sql)>& fn);
  // The same for one user's events: `user_filter` (user_key = K, user_key.h) narrows the
  // hot branch, which reads the days below P from the user projection.
  Status WithUserEventsView(
      const std::string& tenant, const std::string& user_filter,
      const std::function<Status(duck::Connection& con, const std::string& view_sql)>& fn);

  // One step of the user projection (user_projection.h): copies the hot rows of the next
  // day with rows at or past P, sorted by user, into events_by_user and moves P to that
  // day's end, provided it ended `grace_us` before `now_us`; with no such day left, P
  // jumps to the newest complete day without a copy. Returns whether P moved. The bulk
  // copy runs beside the store consumer's batches (own connection and transaction); the
  // rows they commit meanwhile are copied by a short second transaction under the batch
  // lock that also moves P, and only it makes the consumer wait. Callers serialize steps
  // with the archiver's (Archiver::ProjectUsers does).
  Result<bool> ProjectNextDay(int64_t now_us, int64_t grace_us);
  bool user_projection() const { return user_projection_; }

  const duck::Database& db() const { return db_; }
  const std::string& archive_root() const { return archive_root_; }
  // Held exclusively by the archiver while it deletes Parquet files that a reader's
  // snapshot may still list; readers hold it shared (WithEventsView).
  std::shared_mutex& archive_files_mutex() { return archive_files_mu_; }

  // Test hook run inside AppendBatch after rows and offset are written, just before
  // COMMIT; a non-OK status aborts the batch (and a hook may _exit to simulate a crash).
  void SetBeforeCommitHookForTest(std::function<Status()> hook) {
    before_commit_hook_ = std::move(hook);
  }
  // Test hook run by ProjectNextDay between its bulk copy and the move of P.
  void SetBetweenProjectionPhasesHookForTest(std::function<Status()> hook) {
    between_projection_phases_hook_ = std::move(hook);
  }

 private:
  EventStore() = default;
  Status Init();
  // Limits DuckDB's file access to `roots` (EventStoreOptions::file_roots).
  Status RestrictFiles(const std::vector<std::string>& roots);
  // Everything AppendBatch does between BEGIN and COMMIT.
  Status WriteBatch(const std::vector<StoreRow>& rows,
                    const std::vector<ConnectorCheckpoint>& checkpoints,
                    const std::string& consumer, ConsumerPosition position);
  Status WriteDeadLetters(const std::vector<RejectedEvent>& dead_letters);
  // StoredBytesByTenant's queries, inside its transaction on `con`.
  static Result<StoredBytes> SumStoredBytes(duck::Connection& con, const std::string& consumer);

  // Runs `sql` (one optional VARCHAR parameter) and returns its UBIGINT result, 0 if none.
  Result<uint64_t> QueryUInt64(const char* sql, const std::string* param);

  duck::Database db_;
  std::mutex mu_;  // serializes use of con_
  duck::Connection con_;
  // WriteBatch's upserts, prepared once on con_ (under mu_): preparing and running one
  // statement per connector checkpoint per batch was a quarter of serve's CPU with 16
  // connectors. checkpoint_upsert_ holds checkpoint_upsert_rows_ rows of parameters.
  duck::PreparedStatement offset_upsert_;
  duck::PreparedStatement checkpoint_upsert_;
  size_t checkpoint_upsert_rows_ = 0;
  std::function<Status()> before_commit_hook_;
  std::function<Status()> between_projection_phases_hook_;
  bool user_projection_ = false;
  int fixed_threads_ = 0;  // EventStoreOptions::threads
  bool type_ranges_rebuilt_ = false;
  // P as last committed (under mu_): AppendBatch copies its rows below it to the
  // projection. Empty until the first step.
  std::optional<int64_t> projected_until_;
  std::string archive_root_;
  std::shared_mutex archive_files_mu_;
};

}  // namespace sluice
