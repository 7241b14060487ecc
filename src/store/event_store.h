// EventStore: the embedded DuckDB database (data_dir/sluice.duckdb) that holds events.
//
// Rows arrive only from the log, through StoreConsumer, in batches. Each batch commits
// together with the consumer's log offset in one DuckDB transaction (§1.2): after a crash
// the consumer resumes from the committed offset, so a row is never lost or doubled.
//
// properties/context are stored as VARCHAR holding minified JSON (DuckDB's json_* functions
// read it directly); a JSON-typed column would re-parse every value on append.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "ingest/event.h"

namespace sluice {

class EventStore {
 public:
  static Result<std::unique_ptr<EventStore>> Open(const std::string& path);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // The committed log offset of `consumer` (0 if it never committed).
  Result<uint64_t> LoadOffset(const std::string& consumer);
  // Appends `events` and sets the consumer's offset to `new_offset`, atomically.
  Status AppendBatch(const std::vector<Event>& events, const std::string& consumer,
                     uint64_t new_offset);
  Result<uint64_t> CountEvents(const std::string& tenant_or_empty);
  // Streams (tenant, event_id) of every stored event, chunk by chunk (constant memory).
  Status ForEachEventId(const std::string& tenant_or_empty,
                        const std::function<void(std::string_view, std::string_view)>& fn);
  // Runs SQL that returns nothing (schema, maintenance). For tests and tools.
  Status Execute(const std::string& sql);

  // A test hook: when set, AppendBatch fails after appending rows and before COMMIT.
  void FailNextCommitForTest() { fail_next_commit_ = true; }

 private:
  EventStore() = default;
  Status Query(const char* sql);

  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
  std::mutex mu_;  // one statement at a time on con_
  bool fail_next_commit_ = false;
};

}  // namespace sluice
