// The tiers through the real binary: `sluice archive|retention|compact|rehydrate`, each
// killed (like kill -9, via the SLUICE_TEST_ARCHIVE_CRASH_AT hook that _exits) right
// after every step of a file's life, then run again; late events and repeated deliveries
// into archived hours; Parquet files re-imported; a server archiving on its schedule.
// After every step export-ids lists every event exactly once.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHourS = 3600;

// `n` events with ids prefix0.., spread over the hour that starts `hours_ago` hours before
// the current hour.
std::string Events(const std::string& prefix, int hours_ago, int n) {
  const int64_t now = static_cast<int64_t>(time(nullptr));
  const int64_t hour = (now / kHourS - hours_ago) * kHourS;
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += R"({"event_id":")" + prefix + std::to_string(i) +
           R"(","type":"page_view","timestamp":)" + std::to_string(hour + i % kHourS) +
           R"(,"user_id":"u)" + std::to_string(i % 7) + R"(","properties":{"i":)" +
           std::to_string(i) + "}}\n";
  }
  return out;
}

class ArchiveCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("sluice-archive-cli");
    config_ = dir_ + "/sluice.toml";
    WriteFile(config_,
              "[archive]\nhot_days = 1\nretention_days = 30\nlateness_minutes = 60\n"
              "interval_seconds = 1\n");
  }
  void TearDown() override { RemoveTree(dir_); }

  CommandResult Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.end(), {"--config", config_, "--data-dir", dir_ + "/data"});
    return RunSluice(args, stdin_data);
  }
  void Import(const std::string& ndjson) {
    auto r = Run({"import", "-"}, ndjson);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Runs `step`, killed right after `crash_at` (empty: no crash).
  CommandResult Step(const std::string& step, const std::string& crash_at,
                     std::vector<std::string> extra = {}) {
    if (!crash_at.empty()) setenv("SLUICE_TEST_ARCHIVE_CRASH_AT", crash_at.c_str(), 1);
    std::vector<std::string> args = {step};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Run(args);
    unsetenv("SLUICE_TEST_ARCHIVE_CRASH_AT");
    return r;
  }
  void ExpectIds(const std::set<std::string>& expected) {
    auto ids = ExportIds(dir_ + "/data", config_);
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(ids.size(), unique.size()) << "an id was listed twice";
    EXPECT_EQ(unique, expected);
  }
  std::vector<std::string> ParquetFiles() {
    std::vector<std::string> out;
    const fs::path root = dir_ + "/data/archive";
    if (!fs::exists(root)) return out;
    for (auto& e : fs::recursive_directory_iterator(root)) {
      if (e.is_regular_file()) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::set<std::string> Ids(const std::string& prefix, int n) {
    std::set<std::string> s;
    for (int i = 0; i < n; ++i) s.insert(prefix + std::to_string(i));
    return s;
  }

  std::string dir_, config_;
};

TEST_F(ArchiveCliTest, EveryStepSurvivesAKillAndEveryEventStaysOnce) {
  // Two days old (evictable with hot_days = 1), three hours old (archivable), and now.
  Import(Events("old", 48, 300) + Events("mid", 3, 200) + Events("new", 0, 50));
  std::set<std::string> all = Ids("old", 300);
  for (auto& s : {Ids("mid", 200), Ids("new", 50)}) all.insert(s.begin(), s.end());
  ExpectIds(all);

  for (const char* at : {"staged", "renamed", "committed"}) {
    SCOPED_TRACE(std::string("archive killed after ") + at);
    auto r = Step("archive", at);
    EXPECT_EQ(r.exit_code, 137) << r.err;
    ExpectIds(all);
  }
  auto r = Step("archive", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The run killed after "committed" had recorded the first hour; this one does the other.
  EXPECT_NE(r.out.find("archived 1 hour(s)"), std::string::npos) << r.out;
  const size_t archived_files = ParquetFiles().size();
  EXPECT_EQ(archived_files, 2u);
  ExpectIds(all);

  // Late events into the archived hours, and repeats of archived ones: the repeats are
  // duplicates at ingest; the new ones become one more file per hour.
  auto late = Run({"import", "-"}, Events("old", 48, 310) + Events("mid", 3, 205));
  ASSERT_EQ(late.exit_code, 0) << late.err;
  EXPECT_NE(late.err.find("500 duplicates"), std::string::npos) << late.err;
  for (auto& s : {Ids("old", 310), Ids("mid", 205)}) all.insert(s.begin(), s.end());
  ASSERT_EQ(Step("archive", "").exit_code, 0);
  EXPECT_EQ(ParquetFiles().size(), 4u);
  ExpectIds(all);

  for (const char* at : {"staged", "renamed", "committed", "removed"}) {
    SCOPED_TRACE(std::string("compact killed after ") + at);
    EXPECT_EQ(Step("compact", at).exit_code, 137);
    ExpectIds(all);
  }
  ASSERT_EQ(Step("compact", "").exit_code, 0);
  EXPECT_EQ(ParquetFiles().size(), 2u);
  ExpectIds(all);

  // Evict the two-day-old hour (hot_days = 1): killed after the commit that deletes its
  // hot rows, then run to the end.
  EXPECT_EQ(Step("retention", "committed").exit_code, 137);
  ExpectIds(all);
  r = Step("retention", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectIds(all);

  // The same event delivered after its hour left the hot tier: still once.
  auto again = Run({"import", "-"}, Events("old", 48, 310));
  EXPECT_NE(again.err.find("310 duplicates"), std::string::npos) << again.err;
  ExpectIds(all);

  // Rehydrate the evicted hour, and an hour still hot: each event still once.
  const int64_t now = static_cast<int64_t>(time(nullptr));
  r = Step("rehydrate", "",
           {"--from", std::to_string((now / kHourS - 50) * kHourS), "--to", std::to_string(now)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rehydrated 1 hour(s) (310 rows)"), std::string::npos) << r.out;
  ExpectIds(all);
  r = Step("rehydrate", "", {"--from", "yesterday", "--to", "now"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--from"), std::string::npos) << r.err;
}

TEST_F(ArchiveCliTest, ArchivedParquetImportsBackExactlyOnce) {
  Import(Events("p", 5, 120));
  ASSERT_EQ(Step("archive", "").exit_code, 0);
  auto files = ParquetFiles();
  ASSERT_EQ(files.size(), 1u);
  // Into the same data dir: every row a duplicate.
  auto r = Run({"import", files[0]});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("120 duplicates"), std::string::npos) << r.out;
  // Into a fresh one: the same ids, the same values.
  const std::string other = dir_ + "/other";
  r = RunSluice({"import", files[0], "--data-dir", other});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ids = ExportIds(other, "");
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), Ids("p", 120));
  EXPECT_EQ(ids.size(), 120u);
}

TEST_F(ArchiveCliTest, ServerArchivesOnItsScheduleAndAnswersAdminSteps) {
  ServerProcess server(dir_ + "/data", ReadFile(config_));
  ASSERT_TRUE(server.Start());
  auto post = HttpPost(server.url() + "/v1/events", Events("s", 3, 100));
  ASSERT_EQ(post.status, 202) << post.body;
  // interval_seconds = 1: the hour three hours back is archived within a few seconds.
  for (int i = 0; i < 100 && ParquetFiles().empty(); ++i) usleep(100 * 1000);
  EXPECT_EQ(ParquetFiles().size(), 1u) << server.log_text();
  auto compact = HttpPost(server.url() + "/v1/admin/compact", "");
  EXPECT_EQ(compact.status, 200) << compact.body;
  auto bad = HttpPost(server.url() + "/v1/admin/rehydrate?from=x&to=y", "");
  EXPECT_EQ(bad.status, 400) << bad.body;
  auto cli = RunSluice({"archive", "--url", server.url()});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("\"step\":\"archive\""), std::string::npos) << cli.out;
  EXPECT_EQ(server.Stop(), 0);
  ExpectIds(Ids("s", 100));
}

// The user projection (store/user_projection.h) built by the server's own pass: a day
// that ended hours ago is copied sorted by user, and a user's search then reads it, late
// events for that day included, each event once.
TEST_F(ArchiveCliTest, ServerProjectsCompleteDaysForUserSearches) {
  WriteFile(config_, "[archive]\nhot_days = 7\nlateness_minutes = 60\ninterval_seconds = 1\n");
  ServerProcess server(dir_ + "/data", ReadFile(config_));
  ASSERT_TRUE(server.Start());
  // 30 hours back lies in a UTC day that ended at least 6 hours ago.
  ASSERT_EQ(HttpPost(server.url() + "/v1/events", Events("p", 30, 70)).status, 202);
  for (int i = 0; i < 100 && server.log_text().find("projected 1 day(s)") == std::string::npos;
       ++i) {
    usleep(100 * 1000);
  }
  ASSERT_NE(server.log_text().find("projected 1 day(s)"), std::string::npos) << server.log_text();
  auto user_ids = [&](const std::string& user) {
    auto r = HttpGet(server.url() + "/v1/events?limit=1000&user_id=" + user);
    EXPECT_EQ(r.status, 200) << r.body;
    std::multiset<std::string> ids;
    for (size_t at = r.body.find("\"event_id\":\""); at != std::string::npos;
         at = r.body.find("\"event_id\":\"", at + 1)) {
      const size_t start = at + 12;
      ids.insert(r.body.substr(start, r.body.find('"', start) - start));
    }
    return ids;
  };
  std::multiset<std::string> u3;
  for (int i = 3; i < 70; i += 7) u3.insert("p" + std::to_string(i));
  EXPECT_EQ(user_ids("u3"), u3);
  // A late event for the projected day, and a retry of one already there.
  std::string late = Events("late", 30, 4);  // late0..late3: late3 is u3's
  late += Events("p", 30, 4);
  ASSERT_EQ(HttpPost(server.url() + "/v1/events", late).status, 202);
  u3.insert("late3");
  for (int i = 0; i < 50 && user_ids("u3") != u3; ++i) usleep(100 * 1000);
  EXPECT_EQ(user_ids("u3"), u3);
  EXPECT_EQ(server.Stop(), 0);
  auto all = Ids("p", 70);
  all.merge(Ids("late", 4));
  ExpectIds(all);
}

}  // namespace
}  // namespace sluice::test
