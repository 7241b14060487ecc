// Archiver (archiver.h): each step is a few SQL statements on the archiver's own
// connection plus file moves, ordered so that a crash between any two leaves the archive
// consistent (see the header).
#include "store/archiver.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/uuid.h"
#include "log/log_files.h"
#include "store/events_view.h"
#include "store/user_key.h"
#include "store/user_projection.h"

namespace sluice {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kHourUs = 3600ll * 1000000;
constexpr int64_t kDayUs = 24 * kHourUs;
// consumer_offsets row: every hot row with a log_offset below it is either archived or
// in an hour that was still open at the last pass (whose rows are >= it anyway). Lets a
// pass scan only recent rows instead of the whole hot table.
constexpr const char* kScanOffsetName = "archive_scan";

// Rows at or past the store consumer's offset may be half a log record: the store can
// commit a record in parts (ConsumerPosition). An hour's watermark set past them would
// also pass over the rest of that record when it lands, and those rows would never reach
// Parquet (and be deleted by the next eviction), so archiving and eviction take only the
// rows below it. Read before the rows it bounds: a later commit only adds rows above.
Result<uint64_t> WholeRecordsBelow(duck::Connection& con) {
  auto v = StoreConsumerOffset(con);
  if (!v.ok()) return v.status();
  return v->value_or(std::numeric_limits<uint64_t>::max());  // no consumer: nothing split
}

int64_t FloorHour(int64_t us) {
  return us >= 0 ? us / kHourUs * kHourUs : -((-us + kHourUs - 1) / kHourUs) * kHourUs;
}

// The columns of a Parquet file: the view's minus tenant.
constexpr const char* kFileColumns =
    "event_id, type, ts, received_at, user_id, anonymous_id, properties, context, source";

int64_t GetInt64(duckdb_vector v, idx_t row) {
  return static_cast<const int64_t*>(duckdb_vector_get_data(v))[row];
}

// Runs `sql` and calls fn for each row of each chunk.
Status ForEachRow(duck::Connection& con, const std::string& sql,
                  const std::function<void(const duck::DataChunk&, idx_t)>& fn) {
  auto r = con.Query(sql);
  if (!r.ok()) return r.status();
  while (true) {
    Status st;
    duck::DataChunk chunk = r->FetchChunk(&st);
    if (!st.ok()) return st;
    if (!chunk) return Status::OK();
    for (idx_t row = 0; row < chunk.size(); ++row) fn(chunk, row);
  }
}

// The single BIGINT a statement like COPY returns (its row count).
Result<int64_t> QueryCount(duck::Connection& con, const std::string& sql) {
  int64_t n = 0;
  SLUICE_RETURN_IF_ERROR(ForEachRow(
      con, sql, [&](const duck::DataChunk& c, idx_t row) { n = GetInt64(c.column(0), row); }));
  return n;
}

// "ts in hour h" for events_hot.
std::string HourPredicate(const std::string& tenant, int64_t hour_us) {
  return "tenant = " + SqlQuote(tenant) + " AND ts >= " + SqlTimestamp(hour_us) + " AND ts < " +
         SqlTimestamp(hour_us + kHourUs);
}

std::string ParquetList(const std::vector<std::string>& paths) {
  std::string s = "[";
  for (size_t i = 0; i < paths.size(); ++i) s += (i ? ", " : "") + SqlQuote(paths[i]);
  return s + "]";
}

Status FsyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  Status s;
  if (::fsync(fd) != 0) s = Status::FromErrno("fsync " + path, errno);
  ::close(fd);
  return s;
}

// Creates `dir` and its missing parents, fsyncing each parent whose entries changed so the
// directory survives a power loss before the file inside it is recorded.
Status CreateDirsDurably(const fs::path& dir) {
  std::vector<fs::path> created;
  for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) created.push_back(p);
  SLUICE_RETURN_IF_ERROR(CreateDirs(dir.string()));
  for (const auto& p : created) SLUICE_RETURN_IF_ERROR(SyncDir(p.parent_path().string()));
  return Status::OK();
}

// Removes `dir` and its parents up to (not including) `root` while they are empty.
void RemoveEmptyDirs(fs::path dir, const fs::path& root) {
  std::error_code ec;
  while (dir != root && dir.string().size() > root.string().size() && fs::is_empty(dir, ec) &&
         !ec) {
    fs::remove(dir, ec);
    dir = dir.parent_path();
  }
}

Status Transaction(duck::Connection& con, const std::function<Status()>& body) {
  SLUICE_RETURN_IF_ERROR(con.Exec("BEGIN TRANSACTION"));
  Status s = body();
  if (s.ok()) s = con.Exec("COMMIT");
  if (!s.ok()) (void)con.Exec("ROLLBACK");
  return s;
}

}  // namespace

std::string ArchiveStats::ToString() const {
  return fmt::format(
      "archived {} hour(s) ({} file(s), {} rows, {} bytes), evicted {} hour(s) ({} hot rows), "
      "expired {} hour(s), compacted {} hour(s), removed {} file(s), rehydrated {} hour(s) "
      "({} rows), projected {} day(s) by user",
      hours_archived, files_written, rows_written, bytes_written, hours_evicted, rows_evicted,
      hours_expired, hours_compacted, files_removed, hours_rehydrated, rows_rehydrated,
      days_projected);
}

Archiver::Archiver(EventStore* store, ArchiverOptions options)
    : store_(store), options_(std::move(options)) {}

int64_t Archiver::Now() const { return options_.now_us ? options_.now_us() : NowMicros(); }

Status Archiver::Step(std::string_view step) {
  return step_hook_ ? step_hook_(step) : Status::OK();
}

std::string Archiver::HourDir(const std::string& tenant, int64_t hour_us) {
  std::string t;
  for (unsigned char c : tenant) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      t.push_back(static_cast<char>(c));
    } else {
      t += fmt::format("%{:02X}", c);
    }
  }
  time_t secs = static_cast<time_t>(FloorHour(hour_us) / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  return fmt::format("tenant={}/year={:04d}/month={:02d}/day={:02d}/hour={:02d}", t,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
}

Status Archiver::Recover() {
  std::lock_guard<std::mutex> lock(pass_mu_);
  std::error_code ec;
  fs::remove_all(options_.staging_dir, ec);
  SLUICE_RETURN_IF_ERROR(CreateDirs(options_.staging_dir));
  const fs::path root = store_->archive_root();
  SLUICE_RETURN_IF_ERROR(CreateDirs(root.string()));

  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  std::set<std::string> recorded;
  SLUICE_RETURN_IF_ERROR(
      ForEachRow(*con, "SELECT file FROM archive_files", [&](const duck::DataChunk& c, idx_t row) {
        recorded.emplace(duck::GetString(c.column(0), row));
      }));
  std::vector<fs::path> orphans;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string rel = fs::relative(it->path(), root).string();
    if (recorded.erase(rel) == 0) orphans.push_back(it->path());
  }
  if (ec) return Status::IOError("archive: cannot list " + root.string() + ": " + ec.message());
  for (const auto& p : orphans) {
    // A file renamed into place by a pass that crashed before recording it (its rows are
    // still hot or in recorded files), or one unrecorded by compaction or retention.
    spdlog::warn("archive recovery: removing unrecorded file {}", p.string());
    fs::remove(p, ec);
    RemoveEmptyDirs(p.parent_path(), root);
  }
  for (const auto& missing : recorded) {
    spdlog::error("archive: recorded file {} is missing; queries over its tenant will fail",
                  (root / missing).string());
  }
  return Status::OK();
}

Result<std::vector<std::string>> Archiver::RecordedFiles(duck::Connection& con, const Hour& h) {
  std::vector<std::string> files;
  SLUICE_RETURN_IF_ERROR(
      ForEachRow(con,
                 "SELECT file FROM archive_files WHERE tenant = " + SqlQuote(h.tenant) +
                     " AND hour = " + SqlTimestamp(h.hour_us) + " ORDER BY file",
                 [&](const duck::DataChunk& c, idx_t row) {
                   files.push_back(store_->archive_root() + "/" +
                                   std::string(duck::GetString(c.column(0), row)));
                 }));
  return files;
}

Result<uint64_t> Archiver::PublishStaged(const std::string& staged, const std::string& dir,
                                         const std::string& name) {
  SLUICE_RETURN_IF_ERROR(FsyncFile(staged));
  SLUICE_RETURN_IF_ERROR(Step("staged"));
  const fs::path hour_dir = fs::path(store_->archive_root()) / dir;
  SLUICE_RETURN_IF_ERROR(CreateDirsDurably(hour_dir));
  const std::string final_path = (hour_dir / name).string();
  if (::rename(staged.c_str(), final_path.c_str()) != 0) {
    return Status::FromErrno("rename " + staged + " to " + final_path, errno);
  }
  SLUICE_RETURN_IF_ERROR(SyncDir(hour_dir.string()));
  SLUICE_RETURN_IF_ERROR(Step("renamed"));
  std::error_code ec;
  return static_cast<uint64_t>(fs::file_size(final_path, ec));
}

Status Archiver::ArchiveHour(duck::Connection& con, const Hour& h, uint64_t lo, uint64_t hi,
                             bool evict, ArchiveStats* stats) {
  auto existing = RecordedFiles(con, h);
  if (!existing.ok()) return existing.status();
  const std::string dir = HourDir(h.tenant, h.hour_us);
  const std::string name = "part-" + NewUuidV7(Now()) + ".parquet";
  const std::string staged = options_.staging_dir + "/" + name;

  // Rows of the hour not yet archived, minus ids the hour's files hold, one per id
  // (first received wins), sorted by time for compression and row-group pruning.
  std::string select = std::string("SELECT ") + kFileColumns + " FROM events_hot WHERE " +
                       HourPredicate(h.tenant, h.hour_us) +
                       fmt::format(" AND log_offset BETWEEN {} AND {}", lo, hi);
  if (!existing->empty()) {
    select +=
        " AND event_id NOT IN (SELECT event_id FROM read_parquet(" + ParquetList(*existing) + "))";
  }
  select +=
      " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at, log_offset) = 1"
      " ORDER BY ts, event_id";
  auto rows = QueryCount(
      con, "COPY (" + select + ") TO " + SqlQuote(staged) + " (FORMAT PARQUET, COMPRESSION ZSTD)");
  if (!rows.ok()) return rows.status();
  uint64_t bytes = 0;
  if (*rows == 0) {
    std::error_code ec;
    fs::remove(staged, ec);
  } else {
    auto published = PublishStaged(staged, dir, name);
    if (!published.ok()) return published.status();
    bytes = *published;
  }

  uint64_t deleted = 0;
  SLUICE_RETURN_IF_ERROR(Transaction(con, [&]() -> Status {
    if (*rows > 0) {
      SLUICE_RETURN_IF_ERROR(con.Exec(
          fmt::format("INSERT INTO archive_files VALUES ({}, {}, {}, {}, {})", SqlQuote(h.tenant),
                      SqlTimestamp(h.hour_us), SqlQuote(dir + "/" + name), *rows, bytes)));
    }
    SLUICE_RETURN_IF_ERROR(con.Exec(fmt::format(
        "INSERT INTO archive_hours VALUES ({}, {}, {}, {}, NULL) ON CONFLICT (tenant, hour) DO "
        "UPDATE SET watermark = greatest(archive_hours.watermark, excluded.watermark), "
        "evicted = archive_hours.evicted OR excluded.evicted, rehydrated_at = CASE WHEN "
        "excluded.evicted THEN NULL ELSE archive_hours.rehydrated_at END",
        SqlQuote(h.tenant), SqlTimestamp(h.hour_us), hi + 1, evict ? "true" : "false")));
    if (evict) {
      // Every hot row of the hour up to hi is now in a recorded file: below lo from
      // earlier passes (or rehydrated, offset 0), in [lo, hi] from this one or a
      // duplicate of an archived id.
      const std::string evicted =
          HourPredicate(h.tenant, h.hour_us) + fmt::format(" AND log_offset <= {}", hi);
      auto n = QueryCount(con, "DELETE FROM events_hot WHERE " + evicted);
      if (!n.ok()) return n.status();
      deleted = static_cast<uint64_t>(*n);
      if (store_->user_projection()) SLUICE_RETURN_IF_ERROR(DeleteFromProjection(con, evicted));
    }
    return Status::OK();
  }));
  SLUICE_RETURN_IF_ERROR(Step("committed"));
  if (*rows > 0) {
    stats->hours_archived++;
    stats->files_written++;
    stats->rows_written += static_cast<uint64_t>(*rows);
    stats->bytes_written += bytes;
  }
  if (evict) stats->rows_evicted += deleted;
  return Status::OK();
}

Status Archiver::Archive(ArchiveStats* stats) {
  std::lock_guard<std::mutex> lock(pass_mu_);
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  // Hours that ended `lateness` ago or earlier: those starting before this.
  const int64_t cut = FloorHour(Now() - options_.lateness_us);
  struct Candidate {
    Hour hour;
    uint64_t lo, hi;
    bool evicted;
  };
  std::vector<Candidate> todo;
  uint64_t scan_from = 0, next_scan = 0;
  SLUICE_RETURN_IF_ERROR(Transaction(*con, [&]() -> Status {
    auto p = con->Query("SELECT log_offset FROM consumer_offsets WHERE name = " +
                        SqlQuote(kScanOffsetName));
    if (!p.ok()) return p.status();
    auto pv = p->FirstUInt64();
    if (!pv.ok()) return pv.status();
    scan_from = pv->value_or(0);
    auto whole = WholeRecordsBelow(*con);
    if (!whole.ok()) return whole.status();
    const uint64_t whole_below = *whole;
    SLUICE_RETURN_IF_ERROR(ForEachRow(
        *con,
        fmt::format(
            "SELECT e.tenant, epoch_us(date_trunc('hour', e.ts)), min(e.log_offset)::BIGINT,"
            " max(e.log_offset)::BIGINT, coalesce(any_value(a.evicted), false)"
            " FROM events_hot e LEFT JOIN archive_hours a ON a.tenant = e.tenant AND"
            " a.hour = date_trunc('hour', e.ts)"
            " WHERE e.log_offset >= {} AND e.log_offset < {} AND e.ts < {} AND"
            " (a.watermark IS NULL OR e.log_offset >= a.watermark)"
            " GROUP BY ALL ORDER BY 2, 1",
            scan_from, whole_below, SqlTimestamp(cut)),
        [&](const duck::DataChunk& c, idx_t row) {
          Candidate k;
          k.hour.tenant = std::string(duck::GetString(c.column(0), row));
          k.hour.hour_us = GetInt64(c.column(1), row);
          k.lo = static_cast<uint64_t>(GetInt64(c.column(2), row));
          k.hi = static_cast<uint64_t>(GetInt64(c.column(3), row));
          k.evicted = static_cast<const bool*>(duckdb_vector_get_data(c.column(4)))[row];
          todo.push_back(std::move(k));
        }));
    // Where the next pass starts: the oldest row still in an open hour, else past the
    // newest row seen (rows committed later have larger offsets: the log is in order).
    auto n = QueryCount(*con, fmt::format("SELECT coalesce(min(log_offset) FILTER (WHERE ts >= {}),"
                                          " max(log_offset) + 1, {})::BIGINT FROM events_hot"
                                          " WHERE log_offset >= {} AND log_offset < {}",
                                          SqlTimestamp(cut), scan_from, scan_from, whole_below));
    if (!n.ok()) return n.status();
    next_scan = static_cast<uint64_t>(*n);
    return Status::OK();
  }));
  for (const auto& k : todo) {
    SLUICE_RETURN_IF_ERROR(ArchiveHour(*con, k.hour, k.lo, k.hi, k.evicted, stats));
  }
  if (next_scan != scan_from) {
    SLUICE_RETURN_IF_ERROR(con->Exec(
        fmt::format("INSERT OR REPLACE INTO consumer_offsets (name, log_offset) VALUES ({}, {})",
                    SqlQuote(kScanOffsetName), next_scan)));
  }
  return Status::OK();
}

Status Archiver::Evict(ArchiveStats* stats) {
  std::lock_guard<std::mutex> lock(pass_mu_);
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  const int64_t now = Now();
  // An hour leaves the hot tier once it is both closed for archiving and older than
  // hot_days; a rehydrated hour stays another hot_days after its rehydration.
  const int64_t cut =
      std::min(FloorHour(now - options_.lateness_us), FloorHour(now - options_.hot_days * kDayUs));
  struct Candidate {
    Hour hour;
    uint64_t lo, hi;
  };
  std::vector<Candidate> todo;
  auto whole_below = WholeRecordsBelow(*con);
  if (!whole_below.ok()) return whole_below.status();
  SLUICE_RETURN_IF_ERROR(ForEachRow(
      *con,
      fmt::format("SELECT e.tenant, epoch_us(date_trunc('hour', e.ts)) AS h,"
                  " coalesce(any_value(a.watermark), 0)::BIGINT, max(e.log_offset)::BIGINT"
                  " FROM events_hot e LEFT JOIN archive_hours a ON a.tenant = e.tenant AND"
                  " a.hour = date_trunc('hour', e.ts)"
                  " WHERE e.ts < {} AND (a.rehydrated_at IS NULL OR a.rehydrated_at < {})"
                  " AND e.log_offset < {} GROUP BY ALL ORDER BY 2, 1",
                  SqlTimestamp(cut), SqlTimestamp(now - options_.hot_days * kDayUs), *whole_below),
      [&](const duck::DataChunk& c, idx_t row) {
        Candidate k;
        k.hour.tenant = std::string(duck::GetString(c.column(0), row));
        k.hour.hour_us = GetInt64(c.column(1), row);
        k.lo = static_cast<uint64_t>(GetInt64(c.column(2), row));
        k.hi = static_cast<uint64_t>(GetInt64(c.column(3), row));
        todo.push_back(std::move(k));
      }));
  for (const auto& k : todo) {
    // lo is the hour's watermark: rows from it up to hi are written now. With hi below
    // lo every hot row is archived already (or rehydrated, offset 0): the COPY selects
    // nothing and the DELETE removes them all.
    SLUICE_RETURN_IF_ERROR(ArchiveHour(*con, k.hour, k.lo, k.hi, /*evict=*/true, stats));
    stats->hours_evicted++;
  }
  return Status::OK();
}

Status Archiver::RemoveFiles(const std::vector<std::string>& files, ArchiveStats* stats) {
  // Readers hold this shared for a query's length; their snapshot may list these files.
  std::unique_lock<std::shared_mutex> readers(store_->archive_files_mutex());
  const fs::path root = store_->archive_root();
  for (const auto& f : files) {
    std::error_code ec;
    if (fs::remove(f, ec)) stats->files_removed++;
    if (ec) spdlog::warn("archive: cannot remove {}: {}", f, ec.message());
    RemoveEmptyDirs(fs::path(f).parent_path(), root);
  }
  return Step("removed");
}

Status Archiver::ApplyRetention(ArchiveStats* stats) {
  if (options_.retention_days <= 0) return Status::OK();
  std::lock_guard<std::mutex> lock(pass_mu_);
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  // Hours that ended retention_days ago or earlier, in either tier.
  const int64_t cut = FloorHour(Now() - options_.retention_days * kDayUs);
  std::vector<Hour> todo;
  SLUICE_RETURN_IF_ERROR(ForEachRow(
      *con,
      fmt::format("SELECT tenant, epoch_us(hour) FROM archive_hours WHERE hour < {} UNION "
                  "SELECT DISTINCT tenant, epoch_us(date_trunc('hour', ts)) FROM events_hot "
                  "WHERE ts < {} ORDER BY 2, 1",
                  SqlTimestamp(cut - kHourUs + 1), SqlTimestamp(cut - kHourUs + 1)),
      [&](const duck::DataChunk& c, idx_t row) {
        todo.push_back(
            {std::string(duck::GetString(c.column(0), row)), GetInt64(c.column(1), row)});
      }));
  for (const auto& h : todo) {
    if (h.hour_us + kHourUs > cut) continue;
    auto files = RecordedFiles(*con, h);
    if (!files.ok()) return files.status();
    SLUICE_RETURN_IF_ERROR(Transaction(*con, [&]() -> Status {
      const std::string where =
          "tenant = " + SqlQuote(h.tenant) + " AND hour = " + SqlTimestamp(h.hour_us);
      SLUICE_RETURN_IF_ERROR(
          con->Exec("DELETE FROM events_hot WHERE " + HourPredicate(h.tenant, h.hour_us)));
      if (store_->user_projection()) {
        SLUICE_RETURN_IF_ERROR(DeleteFromProjection(*con, HourPredicate(h.tenant, h.hour_us)));
      }
      SLUICE_RETURN_IF_ERROR(con->Exec("DELETE FROM archive_files WHERE " + where));
      return con->Exec("DELETE FROM archive_hours WHERE " + where);
    }));
    SLUICE_RETURN_IF_ERROR(Step("committed"));
    SLUICE_RETURN_IF_ERROR(RemoveFiles(*files, stats));
    stats->hours_expired++;
  }
  return Status::OK();
}

Status Archiver::Compact(ArchiveStats* stats) {
  std::lock_guard<std::mutex> lock(pass_mu_);
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  std::vector<Hour> todo;
  SLUICE_RETURN_IF_ERROR(ForEachRow(
      *con,
      "SELECT tenant, epoch_us(hour) FROM archive_files GROUP BY ALL HAVING count(*) > 1 "
      "ORDER BY 2, 1",
      [&](const duck::DataChunk& c, idx_t row) {
        todo.push_back(
            {std::string(duck::GetString(c.column(0), row)), GetInt64(c.column(1), row)});
      }));
  for (const auto& h : todo) {
    auto files = RecordedFiles(*con, h);
    if (!files.ok()) return files.status();
    const std::string dir = HourDir(h.tenant, h.hour_us);
    const std::string name = "part-" + NewUuidV7(Now()) + ".parquet";
    const std::string staged = options_.staging_dir + "/" + name;
    // The files of an hour are disjoint by construction; the dedupe is a second line.
    auto rows = QueryCount(
        *con, std::string("COPY (SELECT ") + kFileColumns + " FROM read_parquet(" +
                  ParquetList(*files) +
                  ") QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1"
                  " ORDER BY ts, event_id) TO " +
                  SqlQuote(staged) + " (FORMAT PARQUET, COMPRESSION ZSTD)");
    if (!rows.ok()) return rows.status();
    auto bytes = PublishStaged(staged, dir, name);
    if (!bytes.ok()) return bytes.status();
    SLUICE_RETURN_IF_ERROR(Transaction(*con, [&]() -> Status {
      SLUICE_RETURN_IF_ERROR(
          con->Exec("DELETE FROM archive_files WHERE tenant = " + SqlQuote(h.tenant) +
                    " AND hour = " + SqlTimestamp(h.hour_us)));
      return con->Exec(fmt::format("INSERT INTO archive_files VALUES ({}, {}, {}, {}, {})",
                                   SqlQuote(h.tenant), SqlTimestamp(h.hour_us),
                                   SqlQuote(dir + "/" + name), *rows, *bytes));
    }));
    SLUICE_RETURN_IF_ERROR(Step("committed"));
    SLUICE_RETURN_IF_ERROR(RemoveFiles(*files, stats));
    stats->hours_compacted++;
  }
  return Status::OK();
}

Status Archiver::Rehydrate(int64_t from_us, int64_t to_us, const std::string& tenant,
                           ArchiveStats* stats) {
  std::lock_guard<std::mutex> lock(pass_mu_);
  auto con = duck::Connection::Open(store_->db());
  if (!con.ok()) return con.status();
  std::vector<Hour> todo;
  SLUICE_RETURN_IF_ERROR(ForEachRow(
      *con,
      fmt::format("SELECT tenant, epoch_us(hour) FROM archive_hours WHERE evicted AND hour >= {} "
                  "AND hour < {}{} ORDER BY 2, 1",
                  SqlTimestamp(FloorHour(from_us)), SqlTimestamp(to_us),
                  tenant.empty() ? "" : " AND tenant = " + SqlQuote(tenant)),
      [&](const duck::DataChunk& c, idx_t row) {
        todo.push_back(
            {std::string(duck::GetString(c.column(0), row)), GetInt64(c.column(1), row)});
      }));
  const int64_t now = Now();
  for (const auto& h : todo) {
    auto files = RecordedFiles(*con, h);
    if (!files.ok()) return files.status();
    int64_t n = 0;
    SLUICE_RETURN_IF_ERROR(Transaction(*con, [&]() -> Status {
      if (!files->empty()) {
        // Ids already hot (late copies not archived yet) stay as they are: one row per id.
        auto r = QueryCount(
            *con, "INSERT INTO events_hot SELECT " + SqlQuote(h.tenant) + ", " + kFileColumns +
                      ", 0, NULL FROM read_parquet(" + ParquetList(*files) +
                      ") WHERE event_id NOT IN (SELECT event_id FROM events_hot WHERE " +
                      HourPredicate(h.tenant, h.hour_us) + ")");
        if (!r.ok()) return r.status();
        n = *r;
        // SQL cannot compute the key; set it before the rows become visible.
        SLUICE_RETURN_IF_ERROR(FillUserKeys(*con, HourPredicate(h.tenant, h.hour_us)));
        if (store_->user_projection()) {
          SLUICE_RETURN_IF_ERROR(
              RecopyProjectedHour(*con, HourPredicate(h.tenant, h.hour_us), h.hour_us + kHourUs));
        }
      }
      return con->Exec(
          "UPDATE archive_hours SET evicted = false, rehydrated_at = " + SqlTimestamp(now) +
          " WHERE tenant = " + SqlQuote(h.tenant) + " AND hour = " + SqlTimestamp(h.hour_us));
    }));
    stats->hours_rehydrated++;
    stats->rows_rehydrated += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status Archiver::ProjectUsers(ArchiveStats* stats) {
  std::lock_guard<std::mutex> lock(pass_mu_);
  // One day per pass: a store that starts with many unprojected days (an upgrade, a
  // restore) catches up over a few passes instead of in one long one.
  auto moved = store_->ProjectNextDay(Now(), options_.lateness_us);
  if (!moved.ok()) return moved.status();
  stats->days_projected += *moved ? 1 : 0;
  return Status::OK();
}

Status Archiver::RunScheduled(ArchiveStats* stats) {
  SLUICE_RETURN_IF_ERROR(Archive(stats));
  SLUICE_RETURN_IF_ERROR(Evict(stats));
  SLUICE_RETURN_IF_ERROR(ApplyRetention(stats));
  return ProjectUsers(stats);
}

}  // namespace sluice
