// `sluice archive|compact|retention|rehydrate`: run one tiering step now (archiver.h).
// Offline: opens the data dir, applies log records the store has not taken yet (so the
// step sees every acknowledged event), runs the step. With --url: POST /v1/admin/<step>.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/server_client.h"
#include "ingest/timestamp.h"
#include "server/engine.h"

namespace sluice {

namespace {

Result<int64_t> ParseTime(const std::string& flag, const std::string& value) {
  auto t = ParseTimestampString(value);
  if (!t.ok()) return Status::InvalidArgument(flag + ": " + t.status().message());
  return t;
}

int TierOverHttp(const TierFlags& flags) {
  std::string query;
  auto add = [&](const char* key, const std::string& v) {
    if (!v.empty()) query += (query.empty() ? "?" : "&") + std::string(key) + "=" + UrlEscape(v);
  };
  add("from", flags.from);
  add("to", flags.to);
  add("tenant", flags.tenant);
  ServerReply reply = CallServer("POST", flags.url, "/v1/admin/" + flags.step + query);
  if (!reply.ok()) {
    std::fprintf(stderr, "sluice %s: %s\n", flags.step.c_str(), reply.error.c_str());
    return 1;
  }
  std::fprintf(stdout, "%s\n", reply.body.c_str());
  return 0;
}

}  // namespace

int RunTier(const Config& config, const TierFlags& flags) {
  if (!flags.url.empty()) return TierOverHttp(flags);
  auto fail = [&](const Status& s) {
    std::fprintf(stderr, "sluice %s: %s\n", flags.step.c_str(), s.message().c_str());
    return 1;
  };
  int64_t from = 0, to = 0;
  if (flags.step == "rehydrate") {
    auto f = ParseTime("--from", flags.from);
    if (!f.ok()) return fail(f.status());
    auto t = ParseTime("--to", flags.to);
    if (!t.ok()) return fail(t.status());
    from = *f;
    to = *t;
    if (to <= from) return fail(Status::InvalidArgument("--to must be after --from"));
  }
  auto engine = Engine::Open(config, /*start_consumer=*/false);
  if (!engine.ok()) return fail(engine.status());
  Archiver* archiver = (*engine)->archiver();
  if (archiver == nullptr) {
    return fail(
        Status::InvalidArgument("the store is disabled in the configuration ([store] enabled)"));
  }
  // Fault injection for the crash tests: die like kill -9 right after `step`.
  if (const char* at = std::getenv("SLUICE_TEST_ARCHIVE_CRASH_AT"); at != nullptr) {
    archiver->SetStepHookForTest([at = std::string(at)](std::string_view step) {
      if (step == at) ::_exit(137);
      return Status::OK();
    });
  }
  Status s = (*engine)->DrainToStore();
  ArchiveStats stats;
  if (s.ok()) {
    if (flags.step == "archive") s = archiver->Archive(&stats);
    if (flags.step == "compact") s = archiver->Compact(&stats);
    if (flags.step == "retention") {
      s = archiver->Evict(&stats);
      if (s.ok()) s = archiver->ApplyRetention(&stats);
    }
    if (flags.step == "rehydrate") s = archiver->Rehydrate(from, to, flags.tenant, &stats);
  }
  if (s.ok()) s = (*engine)->Close();
  if (!s.ok()) return fail(s);
  std::printf("%s\n", stats.ToString().c_str());
  return 0;
}

}  // namespace sluice
