// Cursor stream (SPEC §5.1): GET url?limit=N&cursor=C, records plus the next cursor from a
// body path or a Link header, page after page until upstream has nothing more.
//
// The checkpoint is the cursor of the next page to fetch; it moves with each page's events
// in one log record. Upstream quirks and how they are handled:
//  - silently capped pages: a short page is not taken as the end; only an empty page, no
//    next cursor, or a next cursor equal to the current one end a poll;
//  - a cursor seen twice in one poll is a loop: the poll ends (counted in cursor_loops)
//    and the next poll starts again from the durable checkpoint;
//  - an expired or unknown cursor (configured status + body match) restarts from the last
//    position upstream still knows: just after the newest stored record when the API takes
//    one (resume_param), else the stream's start, since an opaque cursor cannot be rebuilt;
//    records fetched again are duplicates and dedupe drops them;
//  - records repeated across pages: the same event_id, deduped.
#include <spdlog/spdlog.h>

#include <set>

#include "common/clock.h"
#include "sources/pull_connector.h"

namespace sluice {

namespace {

class CursorConnector : public PullConnector {
 public:
  CursorConnector(const ConnectorConfig& c, Ingestor* ingestor, Log* log, std::string cp)
      : PullConnector(c, ingestor, log, std::move(cp)) {}

  Status Poll() override {
    stats_.polls.fetch_add(1, std::memory_order_relaxed);
    // Position: the cursor, else (resume_param) just after the newest stored id, else the
    // start of the stream.
    std::string cursor = checkpoint(), last_id;
    if (size_t tab = cursor.find('\t'); tab != std::string::npos) {
      last_id = cursor.substr(tab + 1);
      cursor.resize(tab);
    }
    std::string resume_after = cursor.empty() && !config_.resume_param.empty() ? last_id : "";
    std::set<std::string> seen;
    int restarts = 0;
    while (!stopped()) {
      const bool use_cursor = !cursor.empty();
      std::string url;
      if (config_.cursor_from_link_header && use_cursor) {
        url = cursor;  // a Link "next" target is the whole next URL
      } else {
        std::vector<std::pair<std::string, std::string>> extra = {
            {config_.limit_param, std::to_string(config_.page_size)}};
        if (use_cursor) extra.emplace_back(config_.cursor_param, cursor);
        if (!use_cursor && !resume_after.empty()) {
          extra.emplace_back(config_.resume_param, resume_after);
        }
        url = BuildUrl(extra);
      }
      FetchResponse response;
      ExtractedPage page;
      auto outcome = Fetch(url, use_cursor, &response, &page);
      if (!outcome.ok()) return outcome.status();
      if (*outcome == FetchOutcome::kCursorExpired) {
        // Restarts make progress (the first page needs no cursor), but an upstream that
        // expires cursors faster than we page would loop forever: end the poll instead.
        if (++restarts > 10) return Status::Unavailable("cursor expired 10 times in one poll");
        resume_after = config_.resume_param.empty() ? "" : last_id;
        spdlog::warn("connector={} cursor_expired=\"{}\" action={}", config_.name, cursor,
                     resume_after.empty() ? "restart_from_start" : "resume_after:" + resume_after);
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
      bool caught_up = page.records.empty() || next.empty() || next == cursor;
      if (!caught_up && !seen.insert(next).second) {
        stats_.cursor_loops.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("connector={} cursor_loop=\"{}\" action=end_poll", config_.name, next);
        caught_up = true;
        next.clear();
      }
      const std::string new_cursor = next.empty() || next == cursor ? cursor : next;
      if (!page.records.empty()) last_id = page.records.back().id;
      const std::string new_checkpoint =
          config_.resume_param.empty() ? new_cursor : new_cursor + "\t" + last_id;
      if (!page.records.empty() || new_checkpoint != checkpoint()) {
        SLUICE_RETURN_IF_ERROR(Commit(page.records, new_checkpoint));
      }
      if (!new_cursor.empty()) resume_after.clear();  // a cursor again: resume no longer needed
      cursor = new_cursor;
      if (caught_up) {
        stats_.caught_up_at_us.store(NowMicros());
        return Status::OK();
      }
    }
    return Status::OK();
  }
};

}  // namespace

std::unique_ptr<PullConnector> NewCursorConnector(const ConnectorConfig& c, Ingestor* ingestor,
                                                  Log* log, std::string checkpoint) {
  return std::unique_ptr<PullConnector>(
      new CursorConnector(c, ingestor, log, std::move(checkpoint)));
}

}  // namespace sluice
