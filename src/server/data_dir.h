// The data directory's layout and its lock. One process owns a data directory at a time
// (DuckDB and the log both assume it): `serve` and the offline CLI commands take an
// exclusive flock on data_dir/LOCK; a second taker is told who to ask instead (--url).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "log/log_files.h"  // WriteFileAtomic

namespace sluice {

struct DataDirPaths {
  explicit DataDirPaths(std::string root) : root(std::move(root)) {}
  std::string root;
  std::string log() const { return root + "/log"; }
  std::string store() const { return root + "/sluice.duckdb"; }
  std::string archive() const { return root + "/archive"; }  // Parquet tier, hive layout
  // Parquet files being written; outside archive/ so no reader's glob ever sees one.
  std::string archive_staging() const { return root + "/archive-staging"; }
  std::string dedupe_snapshot() const { return root + "/dedupe.snapshot"; }
  std::string lock() const { return root + "/LOCK"; }
  std::string tenants() const { return root + "/tenants.json"; }  // tenants and API keys
  std::string schemas() const { return root + "/schemas.json"; }  // JSON Schemas by type
  std::string address() const { return root + "/sluice.addr"; }   // written by serve
};

class DataDirLock {
 public:
  static Result<std::unique_ptr<DataDirLock>> Acquire(const std::string& root);
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sluice
