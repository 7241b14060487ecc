// Archiver: the tiers of SPEC §4 — hot DuckDB rows, warm Parquet files, retention.
//
// Layout: archive_root/tenant=T/year=YYYY/month=MM/day=DD/hour=HH/part-<uuidv7>.parquet,
// zstd, one row per event, without the tenant column (it is in the path, as hive
// partitioning expects, so Spark and Trino read the tree as is).
//
// The rule every step keeps (events_view.h): a Parquet file belongs to the archive only
// once archive_files names it, and it is named in the same DuckDB transaction that
// deletes the hot rows it replaces (for evicted hours). Files are written into a staging
// directory outside the tree, fsync'd, renamed into their hour directory, and only then
// recorded; files that are replaced (compaction) or expired (retention) are unrecorded
// first and unlinked afterwards, under the store's archive-files lock so no reader's
// snapshot still lists them. A crash between any two steps therefore leaves either an
// unrecorded file (Recover deletes it; its rows are still hot or still in the recorded
// files) or a recorded one that is complete. Nothing is lost or counted twice.
//
// Steps:
//   Archive  — every hour `lateness` past its end gets its new hot rows (log_offset at or
//              past the hour's watermark) written as one more file, minus event_ids the
//              hour's files already hold: re-archiving merges and dedupes, first write wins.
//   Evict    — hours older than `hot_days` are archived, then their hot rows deleted and
//              the hour marked evicted in one transaction; queries read it from Parquet.
//   Retention— hours older than `retention_days` are deleted from both tiers.
//   Compact  — an hour with several files gets them merged into one.
//   Rehydrate— evicted hours are copied back into the hot table (minus ids already there)
//              and unmarked in one transaction; they stay hot for another `hot_days`.
//   ProjectUsers — the next complete day of hot rows is copied, sorted by user, into the
//              user projection (user_projection.h). Evict, Retention and Rehydrate change
//              the projection in the transactions that change events_hot.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/event_store.h"

namespace sluice {

struct ArchiverOptions {
  std::string staging_dir;  // same filesystem as store->archive_root(), outside it
  int64_t lateness_us = 3600ll * 1000000;
  int hot_days = 7;
  int retention_days = 30;          // 0 = keep forever
  std::function<int64_t()> now_us;  // the clock (tests move it); NowMicros when empty
};

struct ArchiveStats {
  uint64_t hours_archived = 0;  // hours that got a new file
  uint64_t files_written = 0;
  uint64_t rows_written = 0;
  uint64_t bytes_written = 0;
  uint64_t hours_evicted = 0;
  uint64_t rows_evicted = 0;  // hot rows deleted because Parquet now holds them
  uint64_t hours_expired = 0;
  uint64_t hours_compacted = 0;
  uint64_t files_removed = 0;
  uint64_t hours_rehydrated = 0;
  uint64_t rows_rehydrated = 0;
  uint64_t days_projected = 0;  // user projection steps (user_projection.h)
  std::string ToString() const;
};

class Archiver {
 public:
  Archiver(EventStore* store, ArchiverOptions options);

  // Deletes what a crash left behind: staging files and Parquet files no archive_files
  // row names. Run before the first step (Engine does, at open).
  Status Recover();

  // The scheduled pass of `serve`: Archive, Evict, Retention, ProjectUsers.
  Status RunScheduled(ArchiveStats* stats);
  // One EventStore::ProjectNextDay step, days `lateness` past their end; serialized with
  // the steps here, which also change events_hot.
  Status ProjectUsers(ArchiveStats* stats);
  Status Archive(ArchiveStats* stats);
  Status Evict(ArchiveStats* stats);
  Status ApplyRetention(ArchiveStats* stats);
  Status Compact(ArchiveStats* stats);
  // Evicted hours starting in [from_us, to_us) of `tenant` (all when empty).
  Status Rehydrate(int64_t from_us, int64_t to_us, const std::string& tenant, ArchiveStats* stats);

  // Called after each step of a file's life: "staged" (written and fsync'd in staging),
  // "renamed" (in its hour directory), "committed" (recorded; old files not yet removed),
  // "removed". A non-OK status aborts the pass there; a hook may also _exit to simulate a
  // crash at that point.
  void SetStepHookForTest(std::function<Status(std::string_view step)> hook) {
    step_hook_ = std::move(hook);
  }

  // "tenant=T/year=YYYY/month=MM/day=DD/hour=HH", with T percent-encoded outside
  // [A-Za-z0-9_-] so no tenant name can climb out of the tree.
  static std::string HourDir(const std::string& tenant, int64_t hour_us);

 private:
  struct Hour {
    std::string tenant;
    int64_t hour_us = 0;
  };
  int64_t Now() const;
  Status Step(std::string_view step);
  // Writes the hot rows of `h` with log_offset in [lo, hi] that its files lack as a new
  // file and records it, raising the watermark to hi + 1; with `evict`, also deletes every
  // hot row of `h` with log_offset <= hi and marks it evicted, in the same transaction.
  Status ArchiveHour(duck::Connection& con, const Hour& h, uint64_t lo, uint64_t hi, bool evict,
                     ArchiveStats* stats);
  // fsyncs the staged file and renames it into archive_root/dir/name (durably), calling
  // the "staged" and "renamed" steps; returns its size. Not yet recorded: see the header.
  Result<uint64_t> PublishStaged(const std::string& staged, const std::string& dir,
                                 const std::string& name);
  // Parquet paths (absolute) recorded for `h`.
  Result<std::vector<std::string>> RecordedFiles(duck::Connection& con, const Hour& h);
  // Unlinks archive-relative `files` once no reader can be reading them.
  Status RemoveFiles(const std::vector<std::string>& files, ArchiveStats* stats);

  EventStore* const store_;
  const ArchiverOptions options_;
  std::mutex pass_mu_;  // one step at a time: scheduled passes and CLI/admin runs
  std::function<Status(std::string_view)> step_hook_;
};

}  // namespace sluice
