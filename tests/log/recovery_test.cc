// Reopening (modelled on LevelDB's recovery_test): what a clean or crashed run leaves
// behind opens to the same records, appends continue where the valid log ends, and odd
// directory states (empty last segment, missing segment, stray files) are handled.
#include "log/log_format.h"
#include "log_test_util.h"

namespace sluice {
namespace {

class RecoveryTest : public testing::LogTestBase {};

TEST_F(RecoveryTest, OpenCreatesMissingDirectories) {
  RecoveryReport rep = Open();
  EXPECT_TRUE(std::filesystem::is_directory(options_.dir));
  EXPECT_TRUE(std::filesystem::is_directory(options_.dir + "/consumers"));
  EXPECT_EQ(rep.segments, 0);
  EXPECT_EQ(rep.records, 0u);
  EXPECT_EQ(log_->start_offset(), 0u);
  EXPECT_EQ(log_->end_offset(), 0u);
  EXPECT_EQ(SegmentFiles().size(), 1u);  // the active segment exists from the start
}

TEST_F(RecoveryTest, OpenFailsWhenDirIsAFile) {
  std::filesystem::create_directories(root_ + "/data");
  WriteFile(options_.dir, "not a directory");
  RecoveryReport rep;
  EXPECT_FALSE(Log::Open(options_, &rep).ok());
}

TEST_F(RecoveryTest, ReopenAppendReopenSeesEverything) {
  options_.segment_bytes = 500;
  std::vector<std::string> written;
  for (int round = 0; round < 6; ++round) {
    RecoveryReport rep = Open();
    EXPECT_TRUE(rep.notes.empty()) << rep.notes[0];
    EXPECT_EQ(rep.records, written.size());
    EXPECT_EQ(ReadAll(), written);
    EXPECT_EQ(log_->durable_offset(), log_->end_offset());
    for (int i = 0; i < 7; ++i) {
      written.push_back(Payload(round * 10 + i, 20 + 13 * i));
      Write(written.back());
    }
    Close();
  }
  Open();
  EXPECT_EQ(ReadAll(), written);
}

TEST_F(RecoveryTest, AppendsAfterTruncatedTailLandAtTheCut) {
  Open();
  Write("one");
  const uint64_t good = Write("two");
  Write(Payload(3, 500));
  Close();
  const std::string seg = SegmentFiles().at(0);
  WriteFile(seg, ReadFile(seg).substr(0, good + 100));  // a torn third record
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 100u);
  EXPECT_EQ(log_->end_offset(), good);
  const uint64_t end = Write("three");
  EXPECT_EQ(end, good + kLogHeaderSize + 5);
  Close();
  RecoveryReport again = Open();
  EXPECT_TRUE(again.notes.empty());
  EXPECT_EQ(again.records, 3u);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"one", "two", "three"}));
}

// A crash right after a roll created the next segment but before anything reached it.
TEST_F(RecoveryTest, EmptyLastSegmentBecomesActive) {
  Open();
  const uint64_t end = Write("only");
  Close();
  char name[32];
  std::snprintf(name, sizeof name, "/%020llu.seg", static_cast<unsigned long long>(end));
  WriteFile(options_.dir + name, "");
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.segments, 2);
  EXPECT_TRUE(rep.notes.empty());
  Write("next");
  Close();  // cuts the direct writes' padding
  EXPECT_EQ(std::filesystem::file_size(options_.dir + name), kLogHeaderSize + 4);
  Open();
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"only", "next"}));
}

TEST_F(RecoveryTest, MissingMiddleSegmentIsReportedAndSkipped) {
  options_.segment_bytes = 100;
  Open();
  std::vector<std::string> written;
  for (int i = 0; i < 6; ++i) {
    written.push_back(Payload(i, 60));  // 69 bytes: one record per segment
    Write(written.back());
  }
  Close();
  auto files = SegmentFiles();
  ASSERT_EQ(files.size(), 6u);
  std::filesystem::remove(files[2]);
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.segments, 5);
  EXPECT_EQ(rep.skipped_bytes, kLogHeaderSize + 60u);
  ASSERT_EQ(rep.notes.size(), 1u);
  EXPECT_NE(rep.notes[0].find("missing"), std::string::npos) << rep.notes[0];
  written.erase(written.begin() + 2);
  EXPECT_EQ(ReadAll(), written);
}

TEST_F(RecoveryTest, StrayFilesAreIgnored) {
  Open();
  Write("x");
  Close();
  WriteFile(options_.dir + "/README", "hello");
  WriteFile(options_.dir + "/123.seg", "short name");
  WriteFile(options_.dir + "/00000000000000000000.seg.bak", "backup");
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.segments, 1);
  EXPECT_TRUE(rep.notes.empty());
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"x"});
}

TEST_F(RecoveryTest, NullReportIsAccepted) {
  auto r = Log::Open(options_, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace sluice
