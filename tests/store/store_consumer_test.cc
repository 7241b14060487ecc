// StoreConsumer end to end with a real Log: every durable event lands in DuckDB exactly
// once, across restarts, a lagging log offset and failed commits; consumed segments are
// garbage-collected.
#include "store/store_consumer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "ingest/connector_batch.h"
#include "ingest/event_codec.h"
#include "store_count.h"

namespace sluice {
namespace {

class StoreConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-consumer-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    log_options_.dir = dir_ + "/log";
    log_options_.segment_bytes = 64 << 10;  // many segments, so GC has work
    log_options_.fsync = false;
    OpenLog();
    OpenStore();
  }
  void TearDown() override {
    store_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenLog() {
    log_.reset();
    RecoveryReport report;
    auto l = Log::Open(log_options_, &report);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(*l);
  }
  void OpenStore() {
    store_.reset();
    auto s = EventStore::Open(dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  // Appends `records` log records of `per_record` events each, numbered from next_id_.
  uint64_t AppendEvents(int records, int per_record, const std::string& tenant = "acme") {
    uint64_t end = 0;
    for (int r = 0; r < records; ++r) {
      EventBatchWriter w;
      for (int i = 0; i < per_record; ++i) {
        Event e;
        e.tenant = tenant;
        e.event_id = "ev-" + std::to_string(next_id_++);
        e.type = "page_view";
        e.ts_us = 1732500000000000 + next_id_;
        e.received_at_us = e.ts_us;
        e.user_id = "u" + std::to_string(next_id_ % 97);
        e.properties = R"({"path":"/p/)" + std::to_string(next_id_) + R"("})";
        e.source = "http";
        w.Add(e);
      }
      auto off = log_->Append(RecordType::kEventBatch, w.Finish());
      EXPECT_TRUE(off.ok()) << off.status().ToString();
      if (off.ok()) end = *off;
    }
    EXPECT_TRUE(log_->WaitDurable(end).ok());
    return end;
  }

  // Appends one pull-connector record of `n` events moving `connector` to `checkpoint`.
  uint64_t AppendConnectorPage(int n, const std::string& connector, const std::string& checkpoint) {
    EventBatchWriter w;
    for (int i = 0; i < n; ++i) {
      Event e;
      e.tenant = "acme";
      e.event_id = "ev-" + std::to_string(next_id_++);
      e.type = "row";
      e.ts_us = 1732500000000000 + next_id_;
      e.received_at_us = e.ts_us;
      e.source = "pull";
      w.Add(e);
    }
    auto off = log_->Append(RecordType::kConnectorBatch,
                            EncodeConnectorBatch({"acme", connector, checkpoint}, w.Finish()));
    EXPECT_TRUE(off.ok()) << off.status().ToString();
    EXPECT_TRUE(log_->WaitDurable(*off).ok());
    return *off;
  }

  // Waits until `c` has applied everything durable in the log.
  void WaitApplied(StoreConsumer* c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (c->applied_offset() < log_->durable_offset() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(c->applied_offset(), log_->durable_offset());
  }

  // Every stored id, checking none is stored twice.
  std::set<std::string> StoredIds() {
    std::set<std::string> ids;
    uint64_t rows = 0;
    EXPECT_TRUE(store_
                    ->ForEachEventId("",
                                     [&](std::string_view, std::string_view id) {
                                       ids.emplace(id);
                                       ++rows;
                                     })
                    .ok());
    EXPECT_EQ(rows, ids.size()) << "an event was stored twice";
    return ids;
  }

  StoreConsumerOptions Options() {
    StoreConsumerOptions o;
    o.batch_events = 1000;
    o.batch_ms = 20;
    return o;
  }

  std::string dir_;
  LogOptions log_options_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<EventStore> store_;
  int next_id_ = 0;
};

TEST_F(StoreConsumerTest, WritesEveryEventOnceAndCollectsSegments) {
  AppendEvents(200, 50);
  const uint64_t disk_before = log_->disk_bytes();
  {
    StoreConsumer c(log_.get(), store_.get(), Options());
    ASSERT_TRUE(c.Start().ok());
    WaitApplied(&c);
    // Records appended while it runs are picked up too.
    AppendEvents(20, 50);
    WaitApplied(&c);
    c.Stop();
    EXPECT_EQ(c.rows_written(), 11000u);
  }
  EXPECT_EQ(StoredIds().size(), 11000u);
  EXPECT_EQ(store_->LoadOffset("store").value(), log_->durable_offset());
  // Consumed segments are gone (the active one stays).
  EXPECT_GT(log_->start_offset(), 0u);
  EXPECT_LT(log_->disk_bytes(), disk_before);
}

TEST_F(StoreConsumerTest, RestartResumesFromCommittedOffset) {
  AppendEvents(30, 100);
  {
    StoreConsumer c(log_.get(), store_.get(), Options());
    ASSERT_TRUE(c.Start().ok());
    WaitApplied(&c);
  }  // destructor stops
  AppendEvents(30, 100);
  OpenStore();
  OpenLog();
  {
    StoreConsumer c(log_.get(), store_.get(), Options());
    ASSERT_TRUE(c.Start().ok());
    WaitApplied(&c);
    c.Stop();
    EXPECT_EQ(c.rows_written(), 3000u);  // only the new ones
  }
  EXPECT_EQ(StoredIds().size(), 6000u);
}

TEST_F(StoreConsumerTest, StoreOffsetWinsOverLaggingLogOffset) {
  AppendEvents(10, 100);
  StoreConsumer first(log_.get(), store_.get(), Options());
  ASSERT_TRUE(first.RunUntilCaughtUp().ok());
  EXPECT_EQ(first.rows_written(), 1000u);
  // A crash between the DuckDB commit and the log's offset write leaves the log behind.
  ASSERT_TRUE(log_->CommitConsumerOffset("store", log_->start_offset()).ok());
  StoreConsumer second(log_.get(), store_.get(), Options());
  ASSERT_TRUE(second.RunUntilCaughtUp().ok());
  EXPECT_EQ(second.rows_written(), 0u);
  EXPECT_EQ(StoredIds().size(), 1000u);
  EXPECT_EQ(log_->MinConsumerOffset(), log_->durable_offset());  // caught up again
}

TEST_F(StoreConsumerTest, FailedCommitsAreRetriedWithoutLossOrDoubles) {
  AppendEvents(20, 100);
  std::atomic<int> failures{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    if (failures.load() < 2) {
      failures.fetch_add(1);
      return Status::IOError("injected");
    }
    return Status::OK();
  });
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.Start().ok());
  WaitApplied(&c);
  c.Stop();
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(failures.load(), 2);
  EXPECT_EQ(c.rows_written(), 2000u);
  EXPECT_EQ(StoredIds().size(), 2000u);
}

TEST_F(StoreConsumerTest, StopCommitsTheBatchInHand) {
  StoreConsumerOptions o = Options();
  o.batch_events = 1000000;
  o.batch_ms = 60000;  // would wait a minute for a full batch
  StoreConsumer c(log_.get(), store_.get(), o);
  ASSERT_TRUE(c.Start().ok());
  AppendEvents(5, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto t0 = std::chrono::steady_clock::now();
  c.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(c.rows_written(), 50u);
  EXPECT_EQ(store_->CountEvents("").value(), 50u);
}

// The reader gathers the next batch while a commit is in flight. Here that commit fails:
// the gathered batch follows the rolled-back one, so it must be dropped and both read
// again from the committed offset, or the store would skip the failed rows.
TEST_F(StoreConsumerTest, FailedCommitDropsTheBatchGatheredMeanwhile) {
  AppendEvents(5, 100);
  std::atomic<int> commits{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    if (commits.fetch_add(1) != 0) return Status::OK();
    // While this first commit hangs, more records arrive and the reader takes them.
    AppendEvents(10, 100);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Status::IOError("injected commit failure");
  });
  StoreConsumerOptions o = Options();
  o.batch_events = 500;
  StoreConsumer c(log_.get(), store_.get(), o);
  ASSERT_TRUE(c.Start().ok());
  WaitApplied(&c);
  c.Stop();
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_GE(commits.load(), 3);  // the failure, the retry, and the batch read meanwhile
  EXPECT_EQ(StoredIds().size(), 1500u);
  EXPECT_EQ(c.rows_written(), 1500u);
}

// Commits happen in log order, one contiguous batch after another, while records keep
// arriving: DuckDB's row order (commit order) never goes back in the log.
TEST_F(StoreConsumerTest, BatchesCommitInLogOrderWhileRecordsArrive) {
  StoreConsumerOptions o = Options();
  o.batch_events = 300;
  o.batch_ms = 2;
  StoreConsumer c(log_.get(), store_.get(), o);
  ASSERT_TRUE(c.Start().ok());
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      AppendEvents(5, 37);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  writer.join();
  WaitApplied(&c);
  c.Stop();
  EXPECT_EQ(StoredIds().size(), 40u * 5 * 37);
  EXPECT_EQ(StoreCount(*store_,
                       "SELECT count(*)::UBIGINT FROM (SELECT log_offset, lag(log_offset) OVER "
                       "(ORDER BY rowid) AS prev FROM events_hot) WHERE log_offset < prev"),
            0u);
  EXPECT_EQ(store_->LoadOffset("store").value(), log_->durable_offset());
}

// A batch ends on its row limit even inside a record (store_consumer.h: DuckDB row groups).
// The committed position is then (record, events of it applied), and a restart from it
// stores the rest of that record once.
TEST_F(StoreConsumerTest, BatchEndsInsideARecordAndRestartResumesThere) {
  AppendEvents(1, 700);
  const uint64_t second = log_->durable_offset();
  AppendEvents(2, 700);
  std::atomic<int> commits{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    return commits.fetch_add(1) == 0 ? Status::OK() : Status::IOError("crash after one batch");
  });
  {
    StoreConsumer c(log_.get(), store_.get(), Options());  // 1000 rows per batch
    EXPECT_FALSE(c.RunUntilCaughtUp().ok());
    EXPECT_EQ(c.rows_written(), 1000u);
    EXPECT_EQ(c.applied_offset(), second);  // the record it stopped in is not all applied
  }
  store_->SetBeforeCommitHookForTest(nullptr);
  ConsumerPosition at = store_->LoadPosition("store").value();
  EXPECT_EQ(at.log_offset, second);
  EXPECT_EQ(at.rows_applied, 300u);
  EXPECT_EQ(StoredIds().size(), 1000u);
  OpenStore();
  OpenLog();
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
  EXPECT_EQ(c.rows_written(), 1100u);
  const std::set<std::string> ids = StoredIds();
  ASSERT_EQ(ids.size(), 2100u);
  for (int i = 0; i < 2100; ++i) EXPECT_EQ(ids.count("ev-" + std::to_string(i)), 1u) << i;
  at = store_->LoadPosition("store").value();
  EXPECT_EQ(at.log_offset, log_->durable_offset());
  EXPECT_EQ(at.rows_applied, 0u);
}

// A record longer than a whole batch spans several, each ending inside it.
TEST_F(StoreConsumerTest, RecordLongerThanABatchSpansSeveral) {
  AppendEvents(1, 2500);
  std::atomic<int> commits{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    commits.fetch_add(1);
    return Status::OK();
  });
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(commits.load(), 3);  // 1000 + 1000 + 500
  EXPECT_EQ(StoredIds().size(), 2500u);
}

// A connector page cut by a batch: its checkpoint commits with the page's last events, not
// before (SPEC §1.5: a checkpoint is durable exactly when the events it covers are).
TEST_F(StoreConsumerTest, SplitConnectorPageCommitsItsCheckpointWithItsLastEvents) {
  AppendEvents(1, 500);
  AppendConnectorPage(800, "feed", "cursor-2");
  std::atomic<int> commits{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    return commits.fetch_add(1) == 0 ? Status::OK() : Status::IOError("crash after one batch");
  });
  {
    StoreConsumer c(log_.get(), store_.get(), Options());
    EXPECT_FALSE(c.RunUntilCaughtUp().ok());
  }
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(StoredIds().size(), 1000u);
  EXPECT_TRUE(store_->LoadConnectorCheckpoints().value().empty());
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
  EXPECT_EQ(StoredIds().size(), 1300u);
  auto cps = store_->LoadConnectorCheckpoints().value();
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].checkpoint.checkpoint, "cursor-2");
}

TEST_F(StoreConsumerTest, FreshStoreStartsAtLogStart) {
  // Another consumer has let the log drop its first segments.
  AppendEvents(100, 50);
  ASSERT_TRUE(log_->RegisterConsumer("other").ok());
  ASSERT_TRUE(log_->CommitConsumerOffset("other", log_->durable_offset()).ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  ASSERT_GT(log_->start_offset(), 0u);
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
  EXPECT_GT(c.rows_written(), 0u);
  EXPECT_EQ(store_->LoadOffset("store").value(), log_->durable_offset());
}

// While batches come full DuckDB runs on one thread (store_consumer.h says why); once
// they stop, it gets its default back, without another commit to prompt it.
TEST_F(StoreConsumerTest, SaturatedStoreNarrowsDuckDbThreadsAndWidensThemAfter) {
  const uint64_t cores = StoreCount(*store_, "SELECT current_setting('threads')::UBIGINT");
  if (cores < 2) GTEST_SKIP() << "one core: narrowing to one thread is not observable";
  StoreConsumerOptions o = Options();
  o.widen_after_ms = 300;
  std::atomic<bool> saw_one{false};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    // After the first full batch, later commits run with DuckDB narrowed.
    if (StoreCount(*store_, "SELECT current_setting('threads')::UBIGINT") == 1) saw_one = true;
    return Status::OK();
  });
  AppendEvents(40, 100);  // 4 full batches of 1000
  StoreConsumer c(log_.get(), store_.get(), o);
  ASSERT_TRUE(c.Start().ok());
  WaitApplied(&c);
  EXPECT_TRUE(saw_one.load());
  // Caught up and idle: within widen_after_ms (and the committer's 100 ms wake-up).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (c.threads_narrowed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(c.threads_narrowed());
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_EQ(StoreCount(*store_, "SELECT current_setting('threads')::UBIGINT"), cores);
  c.Stop();
  EXPECT_EQ(StoredIds().size(), 4000u);
}

TEST_F(StoreConsumerTest, ThreadsSetByHandAreLeftAlone) {
  store_.reset();
  EventStoreOptions so;
  so.threads = 3;
  auto s = EventStore::Open(dir_ + "/sluice.duckdb", so);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(*s);
  std::atomic<int> commits{0}, other{0};
  store_->SetBeforeCommitHookForTest([&]() -> Status {
    ++commits;
    if (StoreCount(*store_, "SELECT current_setting('threads')::UBIGINT") != 3) ++other;
    return Status::OK();
  });
  AppendEvents(40, 100);  // full batches
  StoreConsumer c(log_.get(), store_.get(), Options());
  ASSERT_TRUE(c.RunUntilCaughtUp().ok());
  store_->SetBeforeCommitHookForTest(nullptr);
  EXPECT_GE(commits.load(), 4);
  EXPECT_EQ(other.load(), 0);
  EXPECT_FALSE(c.threads_narrowed());
  EXPECT_EQ(StoreCount(*store_, "SELECT current_setting('threads')::UBIGINT"), 3u);
}

}  // namespace
}  // namespace sluice
