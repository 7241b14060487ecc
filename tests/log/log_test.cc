// The log's contract (log.h), modelled on LevelDB's log_test, corruption_test and
// recovery_test: what was made durable is read back exactly, damage is cut or skipped
// and reported, consumers and GC keep exactly what someone still needs.
#include "log/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

namespace sluice {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-log-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    options_.dir = dir_ + "/log";
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  RecoveryReport Open() {
    log_.reset();
    RecoveryReport report;
    auto r = Log::Open(options_, &report);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) log_ = std::move(*r);
    return report;
  }

  uint64_t Append(const std::string& payload) {
    auto r = log_->Append(RecordType::kEventBatch, payload);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(log_->WaitDurable(*r).ok());
    return *r;
  }

  std::vector<std::string> ReadAll(uint64_t from = UINT64_MAX) {
    if (from == UINT64_MAX) from = log_->start_offset();
    auto reader = log_->NewReader(from);
    std::vector<std::string> out;
    LogRecord rec;
    Status st;
    while (reader->Next(&rec, &st)) out.emplace_back(rec.payload);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::vector<std::string> Segments() {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(options_.dir)) {
      if (e.path().extension() == ".seg") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string Payload(int i, size_t n) {
    std::string s(n, '\0');
    for (size_t k = 0; k < n; ++k) s[k] = static_cast<char>('a' + (i * 31 + k) % 26);
    return s;
  }

  std::string dir_;
  LogOptions options_;
  std::unique_ptr<Log> log_;
};

TEST_F(LogTest, RoundTripManySizes) {
  Open();
  std::vector<std::string> written;
  for (size_t n : {0, 1, 2, 8, 9, 100, 4095, 32768, 1000000}) {
    written.push_back(Payload(static_cast<int>(n), n));
    Append(written.back());
  }
  EXPECT_EQ(ReadAll(), written);
  Open();  // and after reopen
  EXPECT_EQ(ReadAll(), written);
  EXPECT_EQ(log_->end_offset(), log_->durable_offset());
}

TEST_F(LogTest, OffsetsAreRecordBoundaries) {
  Open();
  uint64_t a = Append("first");
  uint64_t b = Append("second");
  EXPECT_EQ(a, kLogHeaderSize + 5);
  EXPECT_EQ(b, a + kLogHeaderSize + 6);
  EXPECT_EQ(ReadAll(a), std::vector<std::string>{"second"});
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  ASSERT_TRUE(reader->Next(&rec, &st));
  EXPECT_EQ(rec.offset, 0u);
  EXPECT_EQ(rec.end_offset, a);
  EXPECT_EQ(rec.type, RecordType::kEventBatch);
}

TEST_F(LogTest, SegmentsRollAndReadAcross) {
  options_.segment_bytes = 1000;
  Open();
  std::vector<std::string> written;
  for (int i = 0; i < 50; ++i) {
    written.push_back(Payload(i, 100 + i * 7));
    Append(written.back());
  }
  EXPECT_GT(Segments().size(), 5u);
  EXPECT_EQ(ReadAll(), written);
  Open();
  EXPECT_EQ(ReadAll(), written);
  // A record larger than a segment gets a segment of its own.
  written.push_back(Payload(99, 5000));
  Append(written.back());
  written.push_back("after");
  Append(written.back());
  EXPECT_EQ(ReadAll(), written);
}

TEST_F(LogTest, ReaderTailsNewRecords) {
  Open();
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  EXPECT_FALSE(reader->Next(&rec, &st));
  EXPECT_TRUE(st.ok());
  Append("one");
  ASSERT_TRUE(reader->Next(&rec, &st));
  EXPECT_EQ(rec.payload, "one");
  EXPECT_FALSE(reader->Next(&rec, &st));
  Append("two");
  ASSERT_TRUE(reader->Next(&rec, &st));
  EXPECT_EQ(rec.payload, "two");
}

TEST_F(LogTest, ConcurrentAppendsShareFsyncs) {
  Open();
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = log_->Append(RecordType::kEventBatch,
                              std::to_string(t) + ":" + std::to_string(i) + Payload(i, 500));
        if (!r.ok() || !log_->WaitDurable(*r).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = ReadAll();
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> keys;
  for (auto& p : all) keys.insert(p.substr(0, p.find('a') == std::string::npos ? 6 : p.size()));
  EXPECT_EQ(keys.size(), all.size());  // each record exactly once
  EXPECT_LT(log_->fsyncs(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(LogTest, OnDurableFiresOnceDurable) {
  Open();
  auto r = log_->Append(RecordType::kEventBatch, "x");
  ASSERT_TRUE(r.ok());
  std::atomic<int> fired{0};
  log_->OnDurable(*r, [&](const Status& s) {
    EXPECT_TRUE(s.ok());
    EXPECT_GE(log_->durable_offset(), *r);
    ++fired;
  });
  ASSERT_TRUE(log_->WaitDurable(*r).ok());
  EXPECT_EQ(fired.load(), 1);
  log_->OnDurable(*r, [&](const Status&) { ++fired; });  // already durable: at once
  EXPECT_EQ(fired.load(), 2);
}

// Cutting the last record at every byte leaves exactly the complete records.
TEST_F(LogTest, TruncatedTailAtEveryByte) {
  Open();
  Append("alpha");
  uint64_t good_end = Append("bravo-bravo");
  Append(Payload(3, 60));
  log_.reset();
  const std::string seg = Segments().back();
  const uint64_t full = std::filesystem::file_size(seg);
  std::string bytes;
  {
    std::ifstream f(seg, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  for (uint64_t cut = good_end; cut < full; ++cut) {
    {
      std::ofstream f(seg, std::ios::binary | std::ios::trunc);
      f.write(bytes.data(), static_cast<std::streamsize>(cut));
    }
    RecoveryReport rep = Open();
    EXPECT_EQ(rep.truncated_bytes, cut - good_end) << "cut at " << cut;
    EXPECT_EQ(rep.records, 2u);
    EXPECT_EQ(ReadAll(), (std::vector<std::string>{"alpha", "bravo-bravo"}));
    EXPECT_EQ(log_->end_offset(), good_end);
    if (cut > good_end) {
      EXPECT_FALSE(rep.notes.empty());
    }
    log_.reset();
  }
}

TEST_F(LogTest, BitFlipInLastRecordCutsTail) {
  Open();
  Append("keep-me");
  uint64_t end = Append("flip-me-please");
  log_.reset();
  const std::string seg = Segments().back();
  int fd = ::open(seg.c_str(), O_RDWR);
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(end - 3)), 1);
  c ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(end - 3)), 1);
  ::close(fd);
  RecoveryReport rep = Open();
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"keep-me"});
  EXPECT_GT(rep.truncated_bytes, 0u);
  // Appends continue after the cut and survive reopen.
  Append("new");
  Open();
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"keep-me", "new"}));
}

TEST_F(LogTest, CorruptMiddleRecordIsSkippedAndReported) {
  Open();
  uint64_t a = Append("first-record");
  Append("middle-record-to-damage");
  Append("third-record");
  Append("fourth-record");
  log_.reset();
  const std::string seg = Segments().back();
  int fd = ::open(seg.c_str(), O_RDWR);
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, static_cast<off_t>(a + kLogHeaderSize + 2)), 1);
  c ^= 0x01;
  ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(a + kLogHeaderSize + 2)), 1);
  ::close(fd);
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.skipped_bytes, kLogHeaderSize + 23u);
  EXPECT_EQ(rep.truncated_bytes, 0u);
  ASSERT_FALSE(rep.notes.empty());
  EXPECT_NE(rep.notes[0].find("skipped"), std::string::npos);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"first-record", "third-record", "fourth-record"}));
}

TEST_F(LogTest, GarbageAfterValidRecordsIsCut) {
  Open();
  Append("a");
  Append("b");
  log_.reset();
  {
    std::ofstream f(Segments().back(), std::ios::binary | std::ios::app);
    std::mt19937 rng(42);
    for (int i = 0; i < 5000; ++i) f.put(static_cast<char>(rng()));
  }
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 5000u);
  EXPECT_EQ(ReadAll(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LogTest, ZeroFilledTailIsCut) {
  // What a power loss after a file-size update but before the data leaves behind.
  Open();
  Append("a");
  log_.reset();
  {
    std::ofstream f(Segments().back(), std::ios::binary | std::ios::app);
    f << std::string(4096, '\0');
  }
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.truncated_bytes, 4096u);
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"a"});
}

TEST_F(LogTest, ConsumersPersistAndGarbageCollection) {
  options_.segment_bytes = 500;
  Open();
  auto r = log_->RegisterConsumer("store");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
  EXPECT_FALSE(log_->RegisterConsumer("../evil").ok());
  std::vector<uint64_t> ends;
  for (int i = 0; i < 30; ++i) ends.push_back(Append(Payload(i, 100)));
  size_t before = Segments().size();
  ASSERT_GT(before, 4u);
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(Segments().size(), before);  // consumer at 0 keeps everything
  ASSERT_TRUE(log_->CommitConsumerOffset("store", ends[20]).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_LT(Segments().size(), before);
  EXPECT_LE(log_->start_offset(), ends[20]);
  EXPECT_GT(log_->start_offset(), 0u);
  // Records from the consumer's offset on are all still readable.
  auto rest = ReadAll(ends[20]);
  EXPECT_EQ(rest.size(), 9u);
  // A reader from a deleted offset fails clearly.
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  EXPECT_FALSE(reader->Next(&rec, &st));
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  // The offset persists.
  Open();
  r = log_->RegisterConsumer("store");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, ends[20]);
  EXPECT_EQ(log_->MinConsumerOffset(), ends[20]);
  // A second, slower consumer holds segments back.
  ASSERT_TRUE(log_->RegisterConsumer("slow").ok());
  EXPECT_EQ(log_->MinConsumerOffset(), log_->start_offset());
}

TEST_F(LogTest, ActiveSegmentIsNeverDeleted) {
  Open();
  ASSERT_TRUE(log_->RegisterConsumer("c").ok());
  uint64_t end = Append("only");
  ASSERT_TRUE(log_->CommitConsumerOffset("c", end).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(Segments().size(), 1u);
  Append("more");
  EXPECT_EQ(ReadAll(end), std::vector<std::string>{"more"});
}

TEST_F(LogTest, PendingLimitIsBackpressure) {
  options_.max_pending_bytes = 1 << 20;
  options_.fsync = true;
  Open();
  // Without waiting, a burst far larger than the limit must be refused at some point.
  std::string big(256 << 10, 'x');
  bool refused = false;
  uint64_t last = 0;
  for (int i = 0; i < 2000 && !refused; ++i) {
    auto r = log_->Append(RecordType::kEventBatch, big);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
      refused = true;
    } else {
      last = *r;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(log_->WaitDurable(last).ok());
}

TEST_F(LogTest, CloseFlushesPending) {
  Open();
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(log_->Append(RecordType::kEventBatch, Payload(i, 50)).ok());
  Open();  // destructor flushed
  EXPECT_EQ(ReadAll().size(), 100u);
}

}  // namespace
}  // namespace sluice
