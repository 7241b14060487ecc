// Time window (SPEC §5.2, audit-log style): every poll fetches [checkpoint, now - safety_lag)
// page by page, in windows of at most max_window_seconds, then moves the checkpoint to the
// window's end.
//
// The checkpoint is the lower bound in unix µs. Pages inside a window commit with the old
// checkpoint, the last page of a window with the new one, so a crash mid-window re-reads
// the window (duplicates, dropped by dedupe) and never skips it. Upstream's lower bound is
// inclusive, so a record exactly at a boundary is fetched twice and deduped.
//
// Events that reach upstream later than safety_lag after their timestamp fall behind the
// checkpoint. recheck_seconds > 0 (on by default, connector_config.h) re-reads
// [checkpoint - recheck, checkpoint) each poll; what it finds that was not stored is
// counted in late_records (a visible miss of the lag) and stored. Replaying an earlier
// checkpoint (`sluice checkpoint set`) recovers the rest. There is no recheck before the
// first window: behind the configured start lies nothing this connector ever read, so
// what is there is not late.
//
// A cursor loop inside a window (a next cursor seen before) never moves the checkpoint:
// the poll fails with the checkpoint kept, counted in cursor_loops, and the next poll
// reads the window again.
#include <spdlog/spdlog.h>

#include <set>

#include "common/clock.h"
#include "ingest/timestamp.h"
#include "sources/pull_connector.h"

namespace sluice {

namespace {

class TimeWindowConnector : public PullConnector {
 public:
  TimeWindowConnector(const ConnectorConfig& c, Ingestor* ingestor, Log* log, std::string cp)
      : PullConnector(c, ingestor, log, std::move(cp)) {}

  Status Poll() override {
    stats_.polls.fetch_add(1, std::memory_order_relaxed);
    auto from_or = Position();
    if (!from_or.ok()) return from_or.status();
    int64_t from = *from_or;
    stats_.position_us.store(from);
    const int64_t lag_us = static_cast<int64_t>(config_.safety_lag_seconds * 1e6);
    const int64_t max_us = std::max<int64_t>(1, int64_t(config_.max_window_seconds * 1e6));
    if (config_.recheck_seconds > 0 && !checkpoint().empty()) {
      const int64_t back = Align(from - int64_t(config_.recheck_seconds * 1e6));
      size_t late = 0;
      SLUICE_RETURN_IF_ERROR(PullRange(back, from, std::to_string(from), &late));
      if (late > 0) {
        stats_.late_records.fetch_add(late, std::memory_order_relaxed);
        spdlog::warn(
            "connector={} late_records={} behind_checkpoint_us={}: safety_lag is too small",
            config_.name, late, from);
      }
    }
    // One poll covers up to now - lag as of its start; chasing the moving "now" would
    // never end (there is always another microsecond).
    const int64_t upper = Align(NowMicros() - lag_us);
    while (!stopped()) {
      if (upper <= from) {
        stats_.caught_up_at_us.store(NowMicros());
        return Status::OK();
      }
      const int64_t to =
          std::min(upper, Align(from + max_us) > from ? Align(from + max_us) : upper);
      SLUICE_RETURN_IF_ERROR(PullRange(from, to, std::to_string(to), nullptr));
      from = to;
      stats_.position_us.store(from);
    }
    return Status::OK();
  }

 private:
  // The checkpoint, or the configured start, or a day ago.
  Result<int64_t> Position() {
    std::string cp = checkpoint();
    if (!cp.empty()) {
      char* end = nullptr;
      long long v = std::strtoll(cp.c_str(), &end, 10);
      if (end == cp.c_str() || *end != '\0') {
        return Status::InvalidArgument("checkpoint '" + cp + "' is not unix microseconds");
      }
      return v;
    }
    if (!config_.start.empty()) {
      auto t = ParseTimestampString(config_.start);
      if (!t.ok())
        return Status::InvalidArgument(config_.file + ": start: " + t.status().message());
      return Align(*t);
    }
    return Align(NowMicros() - int64_t{86400} * 1000000);
  }

  int64_t Unit() const {
    if (config_.time_format == "unix") return 1000000;
    if (config_.time_format == "unix_ms") return 1000;
    return 1;
  }
  // Bounds are whole units of the API's time format, so a bound sent is the bound meant.
  int64_t Align(int64_t us) const { return us - (((us % Unit()) + Unit()) % Unit()); }

  std::string Format(int64_t us) const {
    if (config_.time_format != "rfc3339") return std::to_string(us / Unit());
    time_t secs = static_cast<time_t>(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int64_t frac = us - int64_t(secs) * 1000000;
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    return buf;
  }

  // Fetches every page of [from, to); pages commit with the current checkpoint, the last
  // page with `final_checkpoint`. *stored_out (if set) gets how many were new. A cursor
  // loop is an error that leaves the checkpoint where it was.
  Status PullRange(int64_t from, int64_t to, const std::string& final_checkpoint,
                   size_t* stored_out) {
    const std::string keep = checkpoint();
    std::string cursor;
    std::set<std::string> seen;
    int restarts = 0;
    while (true) {
      if (stopped()) return Status::Unavailable("stopped");
      std::vector<std::pair<std::string, std::string>> extra = {
          {config_.from_param, Format(from)},
          {config_.to_param, Format(to)},
          {config_.limit_param, std::to_string(config_.page_size)}};
      if (!cursor.empty()) extra.emplace_back(config_.cursor_param, cursor);
      const std::string url =
          config_.cursor_from_link_header && !cursor.empty() ? cursor : BuildUrl(extra);
      FetchResponse response;
      ExtractedPage page;
      auto outcome = Fetch(url, !cursor.empty(), &response, &page);
      if (!outcome.ok()) return outcome.status();
      if (*outcome == FetchOutcome::kCursorExpired) {
        // Restarts make progress (the first page needs no cursor), but an upstream that
        // expires cursors faster than we page would loop forever: end the poll instead.
        if (++restarts > 10) return Status::Unavailable("cursor expired 10 times in one poll");
        spdlog::warn("connector={} cursor_expired action=restart_window", config_.name);
        cursor.clear();
        seen.clear();
        continue;
      }
      for (const std::string& e : page.errors) {
        stats_.record_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("connector={} {}", config_.name, e);
      }
      std::string next = config_.cursor_from_link_header
                             ? NextFromLinkHeader(response.Header("link"))
                             : page.next_cursor;
      const bool last = page.records.empty() || next.empty();
      // A next cursor that repeats (itself, or one already followed in this window) means
      // upstream pages in a circle: the rest of the window was never seen, so this page
      // commits with the kept checkpoint and the poll fails; the next one re-reads the
      // window from the same position instead of skipping what the loop hid.
      const bool loop = !last && (next == cursor || !seen.insert(next).second);
      size_t stored = 0;
      SLUICE_RETURN_IF_ERROR(Commit(page.records, last ? final_checkpoint : keep, &stored));
      if (stored_out) *stored_out += stored;
      if (loop) {
        stats_.cursor_loops.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("connector={} cursor_loop=\"{}\" window=[{},{}) action=keep_checkpoint",
                     config_.name, next, from, to);
        return Status::Unavailable("cursor loop at '" + next + "' in window [" + Format(from) +
                                   ", " + Format(to) + "): checkpoint kept at " +
                                   (keep.empty() ? "the start" : keep) + ", retried next poll");
      }
      if (last) return Status::OK();
      cursor = next;
    }
  }
};

}  // namespace

std::unique_ptr<PullConnector> NewTimeWindowConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                      Log* log, std::string checkpoint) {
  return std::unique_ptr<PullConnector>(
      new TimeWindowConnector(c, ingestor, log, std::move(checkpoint)));
}

}  // namespace sluice
