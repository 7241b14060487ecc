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
  std::string CrashImage(const std::string& name = "crash") {
    const std::string copy = root_ + "/" + name;
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
  if (DirectSupported()) {
    EXPECT_GT(rep.padding_bytes, 0u);  // the image really had padding
  }
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

// Only zeros that end the file at a block boundary can be padding.
TEST_F(SegmentWriterTest, ZeroTailAtAnUnalignedSizeIsReported) {
  Open();
  Write("kept");
  Close();
  AppendToFile(SegmentFiles()[0], std::string(100, '\0'));
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 100u);
  EXPECT_EQ(rep.padding_bytes, 0u);
  EXPECT_EQ(rep.notes.size(), 1u);
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"kept"});
}

// The claim the design rests on: a commit rewrites the block holding acknowledged bytes,
// and a crash may tear that rewrite at any sector, leaving some sectors old and some new.
// Every mix keeps every acknowledged record; the new record is whole or gone.
TEST_F(SegmentWriterTest, TornRewriteOfTheLastBlockKeepsAcknowledgedRecords) {
  if (!DirectSupported()) GTEST_SKIP() << "no O_DIRECT on " << root_;
  Open();
  std::vector<std::string> acked;
  for (int i = 0; i < 3; ++i) {
    acked.push_back(Payload(i, 500));
    Write(acked.back());
  }
  const std::string seg_name = std::filesystem::path(SegmentFiles()[0]).filename();
  const std::string before = ReadFile(CrashImage("before") + "/" + seg_name);
  const std::string added = Payload(7, 1500);
  Write(added);
  const std::string after = ReadFile(CrashImage("after") + "/" + seg_name);
  ASSERT_EQ(before.size(), SegmentWriter::kBlock);
  ASSERT_EQ(after.size(), SegmentWriter::kBlock);
  constexpr size_t kSector = 512;
  const std::string image = root_ + "/torn";
  for (size_t k = 0; k <= SegmentWriter::kBlock / kSector; ++k) {
    for (bool new_first : {true, false}) {
      const size_t cut = k * kSector;
      std::string mixed = new_first ? after.substr(0, cut) + before.substr(cut)
                                    : before.substr(0, cut) + after.substr(cut);
      std::filesystem::remove_all(image);
      std::filesystem::create_directories(image + "/consumers");
      WriteFile(image + "/" + seg_name, mixed);
      options_.dir = image;
      Open();
      std::vector<std::string> got = ReadAll();
      ASSERT_GE(got.size(), acked.size()) << "sector " << k << (new_first ? " new first" : "");
      EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + acked.size()), acked);
      if (got.size() > acked.size()) {
        EXPECT_EQ(got.back(), added);
      }
      Close();
    }
  }
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
