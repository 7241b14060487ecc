// Direct-I/O appends (log/segment_writer.h): the active segment is padded to a block while
// open, cut back when sealed or closed, and a crash image with the padding still there
// recovers as a clean log. The rewritten partial block must never lose a record.
#include <fcntl.h>
#include <unistd.h>

#include "log_test_util.h"

namespace sluice {
namespace {

class SegmentWriterTest : public testing::LogTestBase {
 protected:
  // True where the file system takes O_DIRECT (the writer falls back otherwise).
  bool DirectSupported() {
    const std::string probe = root_ + "/probe";
    const int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd < 0) return false;
    const bool fits = SegmentWriter::DirectAlignmentFits(fd);
    ::close(fd);
    ::unlink(probe.c_str());
    return fits;
  }
  // A copy of the log directory as it is now, as a crash would leave it.
  std::string CrashImage() {
    const std::string copy = root_ + "/crash";
    std::filesystem::remove_all(copy);
    std::filesystem::copy(options_.dir, copy, std::filesystem::copy_options::recursive);
    return copy;
  }
};

TEST_F(SegmentWriterTest, ActiveSegmentIsPaddedToABlockAndCloseCutsIt) {
  if (!DirectSupported()) GTEST_SKIP() << "no O_DIRECT on " << root_;
  Open();
  const uint64_t end = Write("one record");
  const std::string seg = SegmentFiles()[0];
  const std::string open_bytes = ReadFile(seg);
  ASSERT_EQ(open_bytes.size(), SegmentWriter::kBlock);
  EXPECT_EQ(open_bytes.find_first_not_of('\0', end), std::string::npos);
  Close();
  EXPECT_EQ(std::filesystem::file_size(seg), end);
}

TEST_F(SegmentWriterTest, CrashImageWithPaddingRecoversCleanly) {
  Open();
  std::vector<std::string> written;
  for (int i = 0; i < 7; ++i) {
    written.push_back(Payload(i, 100 + i * 37));
    Write(written.back());
  }
  options_.dir = CrashImage();
  RecoveryReport rep = Open();
  EXPECT_TRUE(rep.notes.empty()) << rep.notes[0];
  EXPECT_EQ(rep.truncated_bytes, 0u);
  EXPECT_EQ(rep.records, written.size());
  EXPECT_EQ(ReadAll(), written);
  // Appends continue right after the last record, not after the padding.
  const uint64_t before = log_->end_offset();
  written.push_back("after the crash");
  EXPECT_EQ(Write(written.back()), before + kLogHeaderSize + written.back().size());
  Open();
  EXPECT_EQ(ReadAll(), written);
}

// Zeros of a block or more are not padding: a direct write whose blocks never reached the
// disk reads back as zeros, and that loss of unacknowledged bytes is still reported.
TEST_F(SegmentWriterTest, ZeroTailOfABlockOrMoreIsReportedAsTorn) {
  Open();
  const uint64_t end = Write("kept");
  Close();
  const std::string seg = SegmentFiles()[0];
  AppendToFile(seg, std::string(2 * SegmentWriter::kBlock - end, '\0'));
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 2 * SegmentWriter::kBlock - end);
  ASSERT_EQ(rep.notes.size(), 1u);
  EXPECT_NE(rep.notes[0].find("torn"), std::string::npos) << rep.notes[0];
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"kept"});
}

// Every commit rewrites the partial block that holds the previous commit's end, from
// offsets that fall anywhere in a block, across reopenings, and with a record larger than
// one direct write (8 MiB): every record reads back, open and after restart.
TEST_F(SegmentWriterTest, RewrittenPartialBlocksKeepEveryRecord) {
  options_.segment_bytes = 64ull << 20;
  Open();
  std::vector<std::string> written;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 50; ++i) {
      written.push_back(Payload(round * 100 + i, 1 + (i * 523) % 3000));
      Write(written.back());
    }
    Open();  // the next round starts at an unaligned end, loaded from the file
    ASSERT_EQ(ReadAll(), written);
  }
  written.push_back(Payload(999, (9u << 20) + 123));
  Write(written.back());
  written.push_back("tail");
  Write(written.back());
  EXPECT_EQ(ReadAll(), written);
  Open();
  EXPECT_EQ(ReadAll(), written);
}

// The two ways of writing leave byte-identical segments once closed.
TEST_F(SegmentWriterTest, DirectAndBufferedWriteTheSameBytes) {
  std::string files[2];
  for (int direct = 0; direct < 2; ++direct) {
    options_.direct_io = direct == 1;
    options_.dir = root_ + (direct ? "/direct" : "/buffered");
    Open();
    for (int i = 0; i < 40; ++i) Write(Payload(i, 10 + i * 211));
    Close();
    ASSERT_EQ(SegmentFiles().size(), 1u);
    files[direct] = ReadFile(SegmentFiles()[0]);
  }
  EXPECT_EQ(files[0].size(), files[1].size());
  EXPECT_TRUE(files[0] == files[1]);
}

}  // namespace
}  // namespace sluice
