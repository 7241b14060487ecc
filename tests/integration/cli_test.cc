// The CLI of SPEC §3.1 as a user runs it: help, config errors, import, export-ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "harness.h"

namespace sluice::test {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(CliTest, HelpListsCommands) {
  auto r = RunSluice({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"serve", "import", "export-ids", "bench"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << " missing from:\n" << r.out;
  }
}

TEST(CliTest, BadConfigIsOneClearLine) {
  std::string dir = MakeTempDir("cfg");
  WriteFile(dir + "/bad.toml", "[ingest]\nmax_event_bytes = \"big\"\n");
  auto r = RunSluice({"serve", "--config", dir + "/bad.toml", "--data-dir", dir + "/d"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.toml: [ingest] max_event_bytes must be an integer"), std::string::npos)
      << r.err;
  WriteFile(dir + "/typo.toml", "[ingest]\nmax_event_byte = 100\n");
  r = RunSluice({"serve", "--config", dir + "/typo.toml", "--data-dir", dir + "/d"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown key [ingest] max_event_byte"), std::string::npos) << r.err;
  RemoveTree(dir);
}

TEST(CliTest, ImportNdjsonAndArrayThenExportIds) {
  std::string dir = MakeTempDir("import");
  std::string cfg = dir + "/c.toml";
  WriteFile(cfg, "[dedupe]\ncapacity_slots = 65536\n");
  std::string nd;
  for (int i = 0; i < 2500; ++i) {
    nd += R"({"event_id":"n)" + std::to_string(i) +
          R"(","type":"t","timestamp":1700000000123})"
          "\n";
  }
  nd += "{not json}\n";
  WriteFile(dir + "/a.ndjson", nd);
  WriteFile(dir + "/b.json", R"([{"event_id":"j1","type":"t"},{"event_id":"n5","type":"t"}])");
  auto r = RunSluice(
      {"import", "--data-dir", dir + "/d", "--config", cfg, dir + "/a.ndjson", dir + "/b.json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("imported 2503 events: 2501 new, 1 duplicates, 1 invalid"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("event 2500:"), std::string::npos) << r.err;  // the bad line, by index
  // stdin, again: everything is a duplicate.
  r = RunSluice({"import", "--data-dir", dir + "/d", "--config", cfg, "-"}, nd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("0 new, 2500 duplicates"), std::string::npos) << r.err;

  auto ids = ExportIds(dir + "/d", cfg);
  EXPECT_EQ(ids.size(), 2501u);
  auto sorted = Sorted(ids);
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_TRUE(std::binary_search(sorted.begin(), sorted.end(), "j1"));
  EXPECT_TRUE(std::binary_search(sorted.begin(), sorted.end(), "n2499"));
  RemoveTree(dir);
}

TEST(CliTest, ImportThroughRunningServer) {
  std::string dir = MakeTempDir("importurl");
  ServerProcess server(dir + "/data", "[dedupe]\ncapacity_slots = 65536\n");
  ASSERT_TRUE(server.Start()) << server.log_text();
  std::string nd;
  for (int i = 0; i < 1000; ++i)
    nd += R"({"event_id":"u)" + std::to_string(i) +
          R"(","type":"t"})"
          "\n";
  WriteFile(dir + "/a.ndjson", nd);
  auto r = RunSluice({"import", "--url", server.url(), dir + "/a.ndjson"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1000 new"), std::string::npos) << r.err;
  // export-ids through the server sees every acknowledged id at once (it waits for the
  // store to catch up with the log).
  r = RunSluice({"export-ids", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = std::count(r.out.begin(), r.out.end(), '\n');
  EXPECT_EQ(lines, 1000);
  EXPECT_NE(r.out.find("u999\n"), std::string::npos);
  // While the server holds the data dir, offline commands refuse with a pointer to --url.
  r = RunSluice({"export-ids", "--data-dir", dir + "/data"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--url"), std::string::npos) << r.err;
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(ExportIds(dir + "/data", server.config_path()).size(), 1000u);
  RemoveTree(dir);
}

}  // namespace
}  // namespace sluice::test
