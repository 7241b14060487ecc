// Consumer offsets and garbage collection: offsets persist across restarts, and GC deletes
// exactly the segments every consumer has passed, never the active one.
#include <atomic>
#include <cstring>
#include <thread>

#include "log/log_format.h"
#include "log_test_util.h"

namespace sluice {
namespace {

class ConsumerTest : public testing::LogTestBase {
 protected:
  // 30 records of 109 bytes in segments of at most 400 bytes: 3 records per segment.
  std::vector<uint64_t> FillSegments() {
    options_.segment_bytes = 400;
    Open();
    std::vector<uint64_t> ends;
    for (int i = 0; i < 30; ++i) ends.push_back(Write(Payload(i, 100)));
    return ends;
  }
  uint64_t FileBytes() const {
    uint64_t total = 0;
    for (const auto& f : SegmentFiles()) total += RecordBytes(f);
    return total;
  }
};

TEST_F(ConsumerTest, NamesAreValidated) {
  Open();
  for (const char* bad : {"", ".", "..", "../x", "a/b", "a b", "x~", "ü", "a\nb"}) {
    EXPECT_EQ(log_->RegisterConsumer(bad).status().code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_EQ(log_->CommitConsumerOffset(bad, 0).code(), Status::Code::kInvalidArgument) << bad;
  }
  for (const char* good : {"store", "a.b-c_1", "X", "...", "-"}) {
    EXPECT_TRUE(log_->RegisterConsumer(good).ok()) << good;
  }
}

TEST_F(ConsumerTest, OffsetsPersistAcrossReopen) {
  Open();
  EXPECT_EQ(log_->MinConsumerOffset(), 0u);  // no consumers: end_offset()
  const uint64_t a = Write("a");
  const uint64_t b = Write("b");
  EXPECT_EQ(log_->MinConsumerOffset(), b);
  auto r = log_->RegisterConsumer("store");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);  // a new consumer starts at start_offset()
  ASSERT_TRUE(log_->RegisterConsumer("dedupe").ok());
  ASSERT_TRUE(log_->CommitConsumerOffset("store", b).ok());
  ASSERT_TRUE(log_->CommitConsumerOffset("dedupe", a).ok());
  EXPECT_EQ(log_->MinConsumerOffset(), a);
  EXPECT_EQ(log_->CommitConsumerOffset("store", b + 1).code(), Status::Code::kInvalidArgument);
  Open();
  EXPECT_EQ(log_->RegisterConsumer("store").value(), b);
  EXPECT_EQ(log_->RegisterConsumer("dedupe").value(), a);
  EXPECT_EQ(log_->MinConsumerOffset(), a);
  // The file is the documented 12 bytes: offset then masked CRC.
  const std::string bytes = ReadFile(options_.dir + "/consumers/store");
  ASSERT_EQ(bytes.size(), 12u);
  uint64_t stored;
  std::memcpy(&stored, bytes.data(), 8);
  EXPECT_EQ(stored, b);
}

TEST_F(ConsumerTest, DamagedOffsetFileRestartsConsumerAtLogStart) {
  Open();
  Write("a");
  const uint64_t b = Write("b");
  ASSERT_TRUE(log_->CommitConsumerOffset("store", b).ok());
  Close();
  FlipBit(options_.dir + "/consumers/store", 3);
  RecoveryReport rep = Open();
  ASSERT_EQ(rep.notes.size(), 1u);
  EXPECT_NE(rep.notes[0].find("consumers/store"), std::string::npos) << rep.notes[0];
  EXPECT_EQ(log_->RegisterConsumer("store").value(), 0u);
}

TEST_F(ConsumerTest, LeftoverTempFileFromCrashIsRemoved) {
  Open();
  ASSERT_TRUE(log_->RegisterConsumer("store").ok());
  Close();
  WriteFile(options_.dir + "/consumers/store~", "torn");
  RecoveryReport rep = Open();
  EXPECT_TRUE(rep.notes.empty());
  EXPECT_FALSE(std::filesystem::exists(options_.dir + "/consumers/store~"));
  EXPECT_EQ(log_->RegisterConsumer("store").value(), 0u);
}

TEST_F(ConsumerTest, GcDeletesExactlyTheFullyConsumedSegments) {
  const std::vector<uint64_t> ends = FillSegments();
  ASSERT_EQ(SegmentFiles().size(), 10u);
  ASSERT_TRUE(log_->RegisterConsumer("store").ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 10u);  // the consumer is at 0

  // One record short of segment 2's end: segments 0 and 1 go, 2 stays.
  ASSERT_TRUE(log_->CommitConsumerOffset("store", ends[7]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 8u);
  EXPECT_EQ(log_->start_offset(), ends[5]);
  EXPECT_EQ(log_->disk_bytes(), FileBytes());
  // Exactly at segment 2's end: it goes too.
  ASSERT_TRUE(log_->CommitConsumerOffset("store", ends[8]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 7u);
  EXPECT_EQ(log_->start_offset(), ends[8]);
  EXPECT_EQ(log_->disk_bytes(), FileBytes());

  // A slower consumer holds everything from its offset.
  ASSERT_TRUE(log_->RegisterConsumer("slow").ok());
  EXPECT_EQ(log_->MinConsumerOffset(), ends[8]);
  ASSERT_TRUE(log_->CommitConsumerOffset("store", ends[29]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 7u);

  // Everyone at the end: all but the active segment go.
  ASSERT_TRUE(log_->CommitConsumerOffset("slow", ends[29]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 1u);
  EXPECT_EQ(log_->start_offset(), ends[26]);
  EXPECT_EQ(ReadAll(ends[26]).size(), 3u);
  Write("more");
  EXPECT_EQ(ReadAll(ends[29]), std::vector<std::string>{"more"});

  // The new start survives a restart.
  RecoveryReport rep = Open();
  EXPECT_TRUE(rep.notes.empty());
  EXPECT_EQ(log_->start_offset(), ends[26]);
  EXPECT_EQ(ReadAll().size(), 4u);
}

TEST_F(ConsumerTest, ReaderFromDeletedOffsetFails) {
  const std::vector<uint64_t> ends = FillSegments();
  ASSERT_TRUE(log_->CommitConsumerOffset("store", ends[14]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  for (uint64_t from : {uint64_t{0}, ends[3], ends[11]}) {
    auto reader = log_->NewReader(from);
    LogRecord rec;
    Status st;
    EXPECT_FALSE(reader->Next(&rec, &st));
    EXPECT_EQ(st.code(), Status::Code::kNotFound) << from << ": " << st.ToString();
  }
  EXPECT_EQ(ReadAll(ends[14]).size(), 15u);
}

TEST_F(ConsumerTest, GcWithoutConsumersKeepsOnlyTheActiveSegment) {
  FillSegments();
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(SegmentFiles().size(), 1u);
  EXPECT_EQ(log_->disk_bytes(), FileBytes());
}

// A consumer registering while GC runs must never find its start offset deleted.
TEST_F(ConsumerTest, RegisterRacingGcKeepsTheNewConsumersStart) {
  const std::vector<uint64_t> ends = FillSegments();
  ASSERT_TRUE(log_->RegisterConsumer("leader").ok());
  std::atomic<bool> stop{false};
  std::thread gc([&] {
    for (int i = 0; !stop; i = (i + 1) % 30) {
      ASSERT_TRUE(
          log_->CommitConsumerOffset("leader", std::max(ends[i], log_->start_offset())).ok());
      ASSERT_TRUE(log_->CollectGarbage().ok());
    }
  });
  for (int i = 0; i < 40; ++i) {
    auto r = log_->RegisterConsumer("c" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    auto reader = log_->NewReader(*r);
    LogRecord rec;
    Status st;
    // The segment holding the new consumer's start cannot be deleted under it.
    EXPECT_TRUE(reader->Next(&rec, &st) || st.ok()) << st.ToString();
    ASSERT_TRUE(log_->CommitConsumerOffset("c" + std::to_string(i), ends[29]).ok());
  }
  stop = true;
  gc.join();
}

}  // namespace
}  // namespace sluice
