// The log's read/write contract (modelled on LevelDB's log_test): what is appended and made
// durable is read back exactly, at the offsets Append returned, across segments, by
// readers that tail the log; group commit shares fsyncs; backpressure and shutdown.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "log/log_format.h"
#include "log_test_util.h"

namespace sluice {
namespace {

class LogTest : public testing::LogTestBase {};

TEST_F(LogTest, RoundTripManySizes) {
  Open();
  std::vector<std::string> written;
  std::vector<uint64_t> ends;
  const size_t sizes[] = {0,     1,     2,     8,      9,      10,     100,     4095,          4096,
                          32767, 32768, 65536, 262143, 262144, 262153, 1 << 20, (5 << 20) + 3, 0,
                          1};
  int i = 0;
  for (size_t n : sizes) {
    written.push_back(Payload(i, n));
    ends.push_back(
        Write(written.back(), i % 2 ? RecordType::kConnectorBatch : RecordType::kEventBatch));
    ++i;
  }
  for (int pass = 0; pass < 2; ++pass) {  // then again after reopening
    auto reader = log_->NewReader(0);
    LogRecord rec;
    Status st;
    uint64_t prev_end = 0;
    for (size_t k = 0; k < written.size(); ++k) {
      ASSERT_TRUE(reader->Next(&rec, &st)) << "record " << k << ": " << st.ToString();
      EXPECT_EQ(rec.payload, written[k]) << "record " << k;
      EXPECT_EQ(rec.type, k % 2 ? RecordType::kConnectorBatch : RecordType::kEventBatch);
      EXPECT_EQ(rec.offset, prev_end);
      EXPECT_EQ(rec.end_offset, ends[k]);
      EXPECT_EQ(rec.end_offset - rec.offset, kLogHeaderSize + written[k].size());
      EXPECT_EQ(reader->position(), ends[k]);
      prev_end = rec.end_offset;
    }
    EXPECT_FALSE(reader->Next(&rec, &st));
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(log_->end_offset(), ends.back());
    EXPECT_EQ(log_->durable_offset(), ends.back());
    EXPECT_EQ(log_->disk_bytes(), ends.back());
    RecoveryReport rep = Open();
    EXPECT_EQ(rep.records, written.size());
    EXPECT_EQ(rep.truncated_bytes + rep.skipped_bytes, 0u);
    EXPECT_TRUE(rep.notes.empty());
  }
}

TEST_F(LogTest, OffsetsAreGlobalBytePositions) {
  Open();
  const uint64_t a = Write("first");
  const uint64_t b = Write("second");
  EXPECT_EQ(a, kLogHeaderSize + 5);
  EXPECT_EQ(b, a + kLogHeaderSize + 6);
  EXPECT_EQ(ReadAll(a), std::vector<std::string>{"second"});
  EXPECT_EQ(ReadAll(b), std::vector<std::string>{});
  // The on-disk bytes are exactly the documented format.
  const std::string bytes = ReadFile(SegmentFiles()[0]);
  ASSERT_EQ(RecordBytes(SegmentFiles()[0]), b);
  EXPECT_EQ(bytes.substr(4, 5), std::string("\x05\x00\x00\x00\x01", 5));
  EXPECT_EQ(bytes.substr(kLogHeaderSize, 5), "first");
}

TEST_F(LogTest, SegmentsRollBySizeAndAreNamedByOffset) {
  options_.segment_bytes = 1000;
  Open();
  std::vector<std::string> written;
  for (int i = 0; i < 60; ++i) {
    written.push_back(Payload(i, 50 + i * 7));
    Write(written.back());
  }
  // A record larger than a segment gets one to itself; the next record rolls again.
  written.push_back(Payload(99, 3000));
  Write(written.back());
  written.push_back("after");
  const uint64_t end = Write(written.back());

  const auto files = SegmentFiles();
  ASSERT_GT(files.size(), 10u);
  uint64_t expected_base = 0;
  for (const auto& f : files) {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(expected_base));
    EXPECT_EQ(std::filesystem::path(f).filename(), name);
    const uint64_t size = RecordBytes(f);
    // Only the active segment may carry direct-write padding: sealed ones are cut back.
    if (f != files.back()) {
      EXPECT_EQ(size, std::filesystem::file_size(f)) << f;
    }
    EXPECT_TRUE(size <= options_.segment_bytes || size == kLogHeaderSize + 3000) << f;
    expected_base += size;
  }
  EXPECT_EQ(expected_base, end);
  EXPECT_EQ(ReadAll(), written);
  // Every segment parses on its own: no record spans two.
  RecoveryReport rep = Open();
  EXPECT_EQ(rep.segments, static_cast<int>(files.size()));
  EXPECT_EQ(rep.records, written.size());
  EXPECT_TRUE(rep.notes.empty());
  EXPECT_EQ(ReadAll(), written);
  // Appends continue in the last segment after reopening.
  written.push_back("reopened");
  Write(written.back());
  EXPECT_EQ(SegmentFiles().size(), files.size());
  EXPECT_EQ(ReadAll(), written);
}

TEST_F(LogTest, OversizedPayloadIsRejected) {
  Open();
  auto r = log_->Append(RecordType::kEventBatch, std::string(kMaxRecordPayload + 1, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  Write("still fine");
  EXPECT_EQ(ReadAll(), std::vector<std::string>{"still fine"});
}

TEST_F(LogTest, ReaderTailsRecordsAppendedLater) {
  options_.segment_bytes = 200;
  Open();
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  EXPECT_FALSE(reader->Next(&rec, &st));
  EXPECT_TRUE(st.ok());
  for (int i = 0; i < 20; ++i) {  // 20 x 79 bytes: crosses several segment rolls
    const std::string p = Payload(i, 70);
    const uint64_t end = Write(p);
    ASSERT_TRUE(reader->Next(&rec, &st)) << i << ": " << st.ToString();
    EXPECT_EQ(rec.payload, p);
    EXPECT_EQ(rec.end_offset, end);
    EXPECT_FALSE(reader->Next(&rec, &st));
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(reader->position(), end);
  }
  EXPECT_GT(SegmentFiles().size(), 5u);
}

TEST_F(LogTest, ReaderNeverReturnsRecordsBeyondDurable) {
  Open();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i)
      ASSERT_TRUE(log_->Append(RecordType::kEventBatch, Payload(i, 300)).ok());
    done = true;
  });
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  int seen = 0;
  while (seen < 2000) {
    if (reader->Next(&rec, &st)) {
      ASSERT_LE(rec.end_offset, log_->durable_offset());
      ASSERT_EQ(rec.payload, Payload(seen, 300));
      ++seen;
    } else {
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::this_thread::yield();
    }
  }
  writer.join();
}

// Eight threads, each waiting for durability after every append (what HTTP handlers do).
TEST_F(LogTest, ConcurrentAppendsShareFsyncs) {
  Open();
  constexpr int kThreads = 8, kPerThread = 150;
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // end offset -> payload
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string p = std::to_string(t) + ":" + std::to_string(i) + ":" +
                              Payload(t * 1000 + i, (i * 37 + t * 11) % 3000);
        auto r = log_->Append(RecordType::kEventBatch, p);
        if (!r.ok() || !log_->WaitDurable(*r).ok()) {
          ++failures;
          continue;
        }
        EXPECT_GE(log_->durable_offset(), *r);
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_TRUE(acked.emplace(*r, p).second) << "offset handed out twice";
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(acked.size(), static_cast<size_t>(kThreads * kPerThread));
  // Every record exactly once, at the offset its Append returned, in offset order.
  auto reader = log_->NewReader(0);
  LogRecord rec;
  Status st;
  auto it = acked.begin();
  std::vector<int> next_i(kThreads, 0);
  while (reader->Next(&rec, &st)) {
    ASSERT_NE(it, acked.end());
    EXPECT_EQ(rec.end_offset, it->first);
    EXPECT_EQ(rec.payload, it->second);
    // A thread's own appends appear in the order it made them.
    const int t = std::stoi(std::string(rec.payload.substr(0, rec.payload.find(':'))));
    const std::string prefix = std::to_string(t) + ":" + std::to_string(next_i[t]++) + ":";
    EXPECT_EQ(rec.payload.substr(0, prefix.size()), prefix);
    ++it;
  }
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(it, acked.end());
  EXPECT_GT(log_->fsyncs(), 0u);
  EXPECT_LT(log_->fsyncs(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(LogTest, OnDurableCompletesInOffsetOrderAndImmediatelyWhenDurable) {
  Open();
  std::mutex mu;
  std::vector<uint64_t> order;
  uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    auto r = log_->Append(RecordType::kEventBatch, Payload(i, 100));
    ASSERT_TRUE(r.ok());
    last = *r;
    log_->OnDurable(*r, [&, off = *r](const Status& s) {
      EXPECT_TRUE(s.ok());
      EXPECT_GE(log_->durable_offset(), off);
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(off);
    });
  }
  ASSERT_TRUE(log_->WaitDurable(last).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(order.size(), 50u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  }
  bool fired = false;
  log_->OnDurable(last, [&](const Status& s) { fired = s.ok(); });  // on this thread
  EXPECT_TRUE(fired);
  EXPECT_TRUE(log_->WaitDurable(0).ok());
}

TEST_F(LogTest, PendingLimitIsBackpressure) {
  options_.max_pending_bytes = 1 << 20;
  Open();
  // Hold the commit thread inside a completion so that nothing drains the queue.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  auto first = log_->Append(RecordType::kEventBatch, "first");
  ASSERT_TRUE(first.ok());
  log_->OnDurable(*first, [&](const Status&) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  // Three records of 256 KiB + header fit in 1 MiB, the fourth does not.
  const std::string big(256 << 10, 'x');
  std::vector<uint64_t> accepted;
  for (int i = 0; i < 3; ++i) {
    auto r = log_->Append(RecordType::kEventBatch, big);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    accepted.push_back(*r);
  }
  auto refused = log_->Append(RecordType::kEventBatch, big);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable) << refused.status().ToString();
  EXPECT_TRUE(log_->Append(RecordType::kEventBatch, "small enough").ok());
  EXPECT_EQ(log_->Append(RecordType::kEventBatch, big).status().code(), Status::Code::kUnavailable);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(log_->WaitDurable(accepted.back()).ok());
  // Once the queue drained, appends are accepted again; nothing accepted was lost.
  Write("after the burst");
  EXPECT_EQ(ReadAll(),
            (std::vector<std::string>{"first", big, big, big, "small enough", "after the burst"}));
}

TEST_F(LogTest, SingleRecordLargerThanPendingLimitIsAccepted) {
  options_.max_pending_bytes = 1000;
  Open();
  Write(Payload(1, 5000));
  EXPECT_EQ(ReadAll(), std::vector<std::string>{Payload(1, 5000)});
}

TEST_F(LogTest, CloseFlushesPendingAndCompletesWaiters) {
  Open();
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    auto r = log_->Append(RecordType::kEventBatch, Payload(i, 50));
    ASSERT_TRUE(r.ok());
    log_->OnDurable(*r, [&](const Status& s) { ok += s.ok(); });
  }
  // An offset nobody will ever append must not leave its waiter hanging.
  std::atomic<int> never{0};
  log_->OnDurable(log_->end_offset() + 1000, [&](const Status& s) {
    EXPECT_EQ(s.code(), Status::Code::kUnavailable);
    ++never;
  });
  Close();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(never.load(), 1);
  Open();
  EXPECT_EQ(ReadAll().size(), 100u);
}

TEST_F(LogTest, FsyncDisabledStillRoundTrips) {
  options_.fsync = false;
  options_.segment_bytes = 4096;
  Open();
  std::vector<std::string> written;
  for (int i = 0; i < 100; ++i) {
    written.push_back(Payload(i, 100));
    Write(written.back());
  }
  Open();
  EXPECT_EQ(ReadAll(), written);
}

// The newest records come from the log's memory (log/tail_cache.h): a reader following the
// head gets them as written even when their bytes on disk went bad after the write. With
// the cache off the reader finds that damage itself (corruption_test.cc).
TEST_F(LogTest, ReaderFollowingTheHeadReadsRecordsFromMemory) {
  Open();
  std::vector<std::string> payloads;
  const std::vector<uint64_t> ends = WriteEach(5, 1000, &payloads);
  FlipBit(SegmentFiles().at(0), ends[1] + 500);
  EXPECT_EQ(ReadAll(), payloads);
}

// A reader behind what the cache holds reads the files, then switches to memory once it
// reaches the newest chunks: the damaged oldest record is skipped (read from disk), the
// damaged newest one is intact (read from memory), everything between is there once.
TEST_F(LogTest, RecordsOlderThanTheCacheComeFromTheFiles) {
  options_.tail_cache_bytes = 16 << 10;
  Open();
  std::vector<std::string> payloads;
  const std::vector<uint64_t> ends = WriteEach(24, 1000, &payloads);
  FlipBit(SegmentFiles().at(0), 500);
  FlipBit(SegmentFiles().at(0), ends[22] + 500);
  EXPECT_EQ(ReadAll(), std::vector<std::string>(payloads.begin() + 1, payloads.end()));
}

// A consumer's offset inside a record that is still in memory: the reader resynchronizes
// exactly as it does from the file, never trusting the cached bytes at a non-boundary.
TEST_F(LogTest, ReaderStartingInsideACachedRecordResyncsLikeFromTheFile) {
  for (uint64_t cache : {uint64_t{64} << 20, uint64_t{0}}) {
    options_.tail_cache_bytes = cache;
    options_.dir = root_ + "/log-" + std::to_string(cache);
    Open();
    std::vector<uint64_t> ends;
    for (int i = 0; i < 3; ++i) ends.push_back(Write(Payload(i, 1000)));
    auto reader = log_->NewReader(ends[0] + 100);
    LogRecord rec;
    Status st;
    std::vector<uint64_t> offsets;
    while (reader->Next(&rec, &st)) offsets.push_back(rec.offset);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(offsets, std::vector<uint64_t>{ends[1]}) << "cache " << cache;
    EXPECT_EQ(reader->position(), ends[2]);
  }
}

// A reader tailing a log that many appenders fill, with a cache small enough to drop
// chunks all the time: every record arrives once, in order, intact (run under ASan too).
TEST_F(LogTest, TailingReaderWithASmallCacheSeesEveryRecordOnce) {
  options_.tail_cache_bytes = 64 << 10;
  Open();
  constexpr int kWriters = 4, kPerWriter = 600;
  std::atomic<bool> done{false};
  std::thread reader_thread;
  std::vector<std::string> seen;
  Status read_status;
  reader_thread = std::thread([&] {
    auto reader = log_->NewReader(0);
    LogRecord rec;
    while (true) {
      if (reader->Next(&rec, &read_status)) {
        seen.emplace_back(rec.payload);
        continue;
      }
      if (!read_status.ok()) return;
      if (done.load() && reader->position() >= log_->durable_offset()) return;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  std::mutex mu;
  std::map<uint64_t, std::string> by_offset;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string p = Payload(w * kPerWriter + i, 1 + (i * 977 + w * 131) % 3000);
        auto r = log_->Append(RecordType::kEventBatch, p);
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> lock(mu);
        by_offset.emplace(*r, std::move(p));
        if (i % 50 == 0) {
          ASSERT_TRUE(log_->WaitDurable(*r).ok());
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_TRUE(log_->WaitDurable(log_->end_offset()).ok());
  done.store(true);
  reader_thread.join();
  ASSERT_TRUE(read_status.ok()) << read_status.ToString();
  std::vector<std::string> expected;
  for (auto& [end, p] : by_offset) expected.push_back(p);
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace sluice
