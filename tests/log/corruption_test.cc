// Damage on disk (modelled on LevelDB's corruption_test): torn tails are cut, corrupt
// records followed by valid ones are skipped, both are reported, and readers skip exactly
// what recovery reported.
#include <random>

#include "log/log_format.h"
#include "log_test_util.h"

namespace sluice {
namespace {

class CorruptionTest : public testing::LogTestBase {
 protected:
  // Writes `payloads` and closes; returns each record's end offset.
  std::vector<uint64_t> WriteAndClose(const std::vector<std::string>& payloads) {
    Open();
    std::vector<uint64_t> ends;
    for (const auto& p : payloads) ends.push_back(Write(p));
    Close();
    return ends;
  }

  static bool Contains(const std::vector<std::string>& notes, const std::string& what) {
    for (const auto& n : notes) {
      if (n.find(what) != std::string::npos) return true;
    }
    return false;
  }
};

// A crash can tear the last write anywhere: cutting the file at every byte leaves exactly
// the records that were complete at the cut.
TEST_F(CorruptionTest, TruncationAtEveryByteKeepsExactlyTheCompleteRecords) {
  const std::vector<std::string> payloads = {"", "abc", Payload(1, 40), "z", Payload(2, 25)};
  const std::vector<uint64_t> ends = WriteAndClose(payloads);
  const std::string seg = SegmentFiles().at(0);
  const std::string bytes = ReadFile(seg);
  ASSERT_EQ(bytes.size(), ends.back());
  for (uint64_t cut = 0; cut <= bytes.size(); ++cut) {
    WriteFile(seg, bytes.substr(0, cut));
    std::vector<std::string> expected;
    uint64_t complete_end = 0;
    for (size_t i = 0; i < payloads.size() && ends[i] <= cut; ++i) {
      expected.push_back(payloads[i]);
      complete_end = ends[i];
    }
    RecoveryReport rep = Open();
    EXPECT_EQ(rep.truncated_bytes, cut - complete_end) << "cut at " << cut;
    EXPECT_EQ(rep.skipped_bytes, 0u) << "cut at " << cut;
    EXPECT_EQ(rep.records, expected.size()) << "cut at " << cut;
    EXPECT_EQ(rep.notes.empty(), cut == complete_end) << "cut at " << cut;
    if (cut != complete_end) {
      EXPECT_TRUE(Contains(rep.notes, std::filesystem::path(seg).filename()));
      EXPECT_TRUE(Contains(rep.notes, "at byte " + std::to_string(complete_end)));
    }
    EXPECT_EQ(ReadAll(), expected) << "cut at " << cut;
    EXPECT_EQ(log_->end_offset(), complete_end);
    EXPECT_EQ(log_->durable_offset(), complete_end);
    EXPECT_EQ(std::filesystem::file_size(seg), complete_end);  // really truncated
    Close();
  }
}

// A flipped bit anywhere in the last record (CRC, length, type or payload) makes it a
// damaged tail: it is cut, the records before it stay.
TEST_F(CorruptionTest, BitFlipInLastRecordCutsItOff) {
  const std::vector<std::string> payloads = {"keep-1", "keep-2", "the last record"};
  const std::vector<uint64_t> ends = WriteAndClose(payloads);
  const std::string seg = SegmentFiles().at(0);
  const std::string bytes = ReadFile(seg);
  for (uint64_t pos = ends[1]; pos < ends[2]; ++pos) {
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << (pos % 8)));
    WriteFile(seg, damaged);
    RecoveryReport rep = Open();
    EXPECT_EQ(rep.truncated_bytes, ends[2] - ends[1]) << "flip at " << pos;
    EXPECT_EQ(rep.skipped_bytes, 0u);
    EXPECT_EQ(ReadAll(), (std::vector<std::string>{"keep-1", "keep-2"})) << "flip at " << pos;
    Close();
  }
  // Appending after the cut works, and a reopen sees old and new records.
  WriteFile(seg, bytes.substr(0, ends[2] - 1));
  Open();
  Write("new");
  Open();
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"keep-1", "keep-2", "new"}));
}

// A flipped bit anywhere in a record that has valid records after it (including its
// length field, which then points past the end of the file) skips just that record.
TEST_F(CorruptionTest, BitFlipInMiddleRecordSkipsOnlyThatRecord) {
  const std::vector<std::string> payloads = {"first", "the middle one", "third", "fourth"};
  const std::vector<uint64_t> ends = WriteAndClose(payloads);
  const std::string seg = SegmentFiles().at(0);
  const std::string bytes = ReadFile(seg);
  for (uint64_t pos = ends[0]; pos < ends[1]; ++pos) {
    for (int bit : {0, 7}) {
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      WriteFile(seg, damaged);
      RecoveryReport rep = Open();
      const std::string where = "flip at " + std::to_string(pos) + " bit " + std::to_string(bit);
      EXPECT_EQ(rep.skipped_bytes, ends[1] - ends[0]) << where;
      EXPECT_EQ(rep.truncated_bytes, 0u) << where;
      EXPECT_EQ(rep.records, 3u) << where;
      ASSERT_EQ(rep.notes.size(), 1u) << where;
      EXPECT_TRUE(Contains(rep.notes, std::filesystem::path(seg).filename()));
      EXPECT_TRUE(
          Contains(rep.notes, "bytes " + std::to_string(ends[0]) + ".." + std::to_string(ends[1])))
          << rep.notes[0];
      EXPECT_EQ(ReadAll(), (std::vector<std::string>{"first", "third", "fourth"})) << where;
      // A consumer resuming exactly at the damage jumps over it too.
      auto reader = log_->NewReader(ends[0]);
      LogRecord rec;
      Status st;
      ASSERT_TRUE(reader->Next(&rec, &st)) << st.ToString();
      EXPECT_EQ(rec.payload, "third");
      EXPECT_EQ(rec.offset, ends[1]);
      // The damaged bytes stay on disk: offsets of later records do not move.
      EXPECT_EQ(log_->end_offset(), ends[3]);
      Close();
    }
  }
}

TEST_F(CorruptionTest, SeveralDamagedRangesAreEachReported) {
  std::vector<std::string> payloads;
  for (int i = 0; i < 6; ++i) payloads.push_back(Payload(i, 30 + i));
  const std::vector<uint64_t> ends = WriteAndClose(payloads);
  const std::string seg = SegmentFiles().at(0);
  FlipBit(seg, ends[0] + 12);  // record 1's payload
  FlipBit(seg, ends[2] + 2);   // record 3's CRC
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.notes.size(), 2u);
  EXPECT_EQ(rep.skipped_bytes, (ends[1] - ends[0]) + (ends[3] - ends[2]));
  EXPECT_EQ(ReadAll(),
            (std::vector<std::string>{payloads[0], payloads[2], payloads[4], payloads[5]}));
  // Recovery does not rewrite skipped damage, so every reopen reports it again, the same.
  RecoveryReport again = Open();
  EXPECT_EQ(again.skipped_bytes, rep.skipped_bytes);
  EXPECT_EQ(again.truncated_bytes, 0u);
}

TEST_F(CorruptionTest, GarbageInsertedBetweenRecordsIsSkipped) {
  const std::vector<uint64_t> ends = WriteAndClose({"before", "after"});
  const std::string seg = SegmentFiles().at(0);
  std::string bytes = ReadFile(seg);
  std::mt19937 rng(7);
  std::string garbage(333, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  bytes.insert(ends[0], garbage);
  WriteFile(seg, bytes);
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.skipped_bytes, 333u);
  EXPECT_EQ(rep.truncated_bytes, 0u);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"before", "after"}));
}

TEST_F(CorruptionTest, GarbageAfterValidRecordsIsCut) {
  const std::vector<uint64_t> ends = WriteAndClose({"a", "b"});
  const std::string seg = SegmentFiles().at(0);
  std::mt19937 rng(42);
  std::string garbage(5000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  // Including a plausible header whose length runs past the end of the file.
  garbage.replace(100, 9, std::string("\x01\x02\x03\x04\x00\x10\x00\x00\x01", 9));
  AppendToFile(seg, garbage);
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 5000u);
  EXPECT_EQ(rep.skipped_bytes, 0u);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(log_->end_offset(), ends[1]);
}

// What a power loss after a file-size update but before the data write leaves behind.
TEST_F(CorruptionTest, ZeroFilledTailIsCut) {
  WriteAndClose({"a"});
  AppendToFile(SegmentFiles().at(0), std::string(4096, '\0'));
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 4096u);
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"a"});
}

// Damage in a sealed segment is never cut (later segments depend on its offsets): a bad
// record is skipped, and so is a bad tail with nothing valid after it in that segment.
TEST_F(CorruptionTest, DamageInSealedSegmentsIsSkipped) {
  options_.segment_bytes = 300;
  std::vector<std::string> payloads;
  for (int i = 0; i < 20; ++i) payloads.push_back(Payload(i, 80));  // 89 bytes: 3 per segment
  const std::vector<uint64_t> ends = WriteAndClose(payloads);
  const auto files = SegmentFiles();
  ASSERT_GE(files.size(), 6u);
  // Segment 0 holds records 0-2, segment 1 holds 3-5. Damage record 1 (middle of segment
  // 0) and record 5 (tail of segment 1).
  FlipBit(files[0], ends[0] + 20);
  FlipBit(files[1], ends[4] - ends[2] + 20);
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 0u);
  EXPECT_EQ(rep.skipped_bytes, (ends[1] - ends[0]) + (ends[5] - ends[4]));
  EXPECT_EQ(rep.notes.size(), 2u);
  std::vector<std::string> expected = payloads;
  expected.erase(expected.begin() + 5);
  expected.erase(expected.begin() + 1);
  EXPECT_EQ(ReadAll(), expected);
  EXPECT_EQ(rep.records, expected.size());
}

// Bytes that go bad after Open (bit rot under a running server) are found by the reader
// itself, which skips them by the rule recovery would apply at the next start.
TEST_F(CorruptionTest, ReaderResyncsOverDamageAfterOpenLikeRecovery) {
  // Records still in the log's memory are read from there, undamaged (log_test.cc); this
  // is about the reader of the files.
  options_.tail_cache_bytes = 0;
  Open();
  std::vector<std::string> payloads;
  const std::vector<uint64_t> ends = WriteEach(5, 1000, &payloads);
  FlipBit(SegmentFiles().at(0), ends[1] + 500);  // record 2, while the log is open
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  std::vector<uint64_t> live_offsets;
  while (reader->Next(&rec, &st)) live_offsets.push_back(rec.offset);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(live_offsets, (std::vector<uint64_t>{0, ends[0], ends[2], ends[3]}));
  EXPECT_EQ(reader->position(), ends[4]);

  RecoveryReport rep = Open();
  EXPECT_EQ(rep.skipped_bytes, ends[2] - ends[1]);
  reader = log_->NewReader(0);
  std::vector<uint64_t> recovered_offsets;
  while (reader->Next(&rec, &st)) recovered_offsets.push_back(rec.offset);
  EXPECT_EQ(recovered_offsets, live_offsets);
}

// Random damage of random logs (in the spirit of a fuzzer, but deterministic): Open never
// fails, every record read is one that was written, in order, and a second Open finds
// nothing new to repair.
TEST_F(CorruptionTest, RandomDamageNeverYieldsForeignRecords) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 150; ++iter) {
    std::filesystem::remove_all(options_.dir);
    options_.segment_bytes = 200 + rng() % 800;
    std::vector<std::string> payloads;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) payloads.push_back(Payload(iter * 100 + i, rng() % 150));
    WriteAndClose(payloads);
    const auto files = SegmentFiles();
    const std::string& victim = files[rng() % files.size()];
    std::string bytes = ReadFile(victim);
    switch (rng() % 4) {
      case 0:  // flip a few bits
        for (int k = 0; k < 3 && !bytes.empty(); ++k) {
          bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
        }
        break;
      case 1:  // truncate
        bytes.resize(bytes.empty() ? 0 : rng() % bytes.size());
        break;
      case 2:  // append garbage
        for (int k = 0, m = static_cast<int>(rng() % 300); k < m; ++k) {
          bytes.push_back(static_cast<char>(rng()));
        }
        break;
      case 3:  // zero a range
        if (!bytes.empty()) {
          const size_t at = rng() % bytes.size();
          const size_t len = std::min<size_t>(bytes.size() - at, rng() % 100);
          std::fill(bytes.begin() + at, bytes.begin() + at + len, '\0');
        }
        break;
    }
    WriteFile(victim, bytes);
    RecoveryReport rep = Open();
    ASSERT_NE(log_, nullptr);
    const std::vector<std::string> got = ReadAll();
    EXPECT_EQ(got.size(), rep.records) << "iteration " << iter;
    size_t next = 0;  // `got` must be a subsequence of `payloads`
    for (const std::string& g : got) {
      while (next < payloads.size() && payloads[next] != g) ++next;
      ASSERT_LT(next, payloads.size()) << "iteration " << iter << ": foreign record";
      ++next;
    }
    RecoveryReport again = Open();
    EXPECT_EQ(again.truncated_bytes, 0u) << "iteration " << iter;
    EXPECT_EQ(again.skipped_bytes, rep.skipped_bytes) << "iteration " << iter;
    EXPECT_EQ(ReadAll(), got) << "iteration " << iter;
    Write("appended");
    EXPECT_EQ(ReadAll().back(), "appended") << "iteration " << iter;
    Close();
  }
}

}  // namespace
}  // namespace sluice
