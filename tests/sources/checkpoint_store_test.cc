// A connector's checkpoint is durable with its events (SPEC §1.5): kConnectorBatch records
// through the real Ingestor, Log, StoreConsumer and DuckDB. The checkpoint survives log
// garbage collection (the store holds it), a newer record still in the log wins over the
// store, an all-duplicate page still moves it, and dedupe recovery reads these records.
#include "sources/checkpoint_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ingest/ingestor.h"
#include "store/store_consumer.h"

namespace sluice {
namespace {

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-checkpoint-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    LogOptions lo;
    lo.dir = dir_ + "/log";
    lo.segment_bytes = 4096;  // many small segments, so GC really drops old records
    RecoveryReport report;
    auto l = Log::Open(lo, &report);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(*l);
    auto s = EventStore::Open(dir_ + "/sluice.duckdb");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ingestor_ = std::make_unique<Ingestor>(log_.get(), 1 << 12, dir_ + "/dedupe.snapshot");
    uint64_t replayed = 0;
    ASSERT_TRUE(ingestor_->Recover(&replayed).ok());
    replayed_ = replayed;
  }
  void Close() {
    ingestor_.reset();
    store_.reset();
    log_.reset();
  }
  SubmitResult Page(const std::string& checkpoint, int first, int n) {
    std::vector<Event> events;
    for (int i = first; i < first + n; ++i) {
      Event e;
      e.tenant = "default";
      e.event_id = "orders:" + std::to_string(i);
      e.type = "orders.record";
      e.ts_us = 1700000000000000 + i;
      e.properties = "{\"n\":" + std::to_string(i) + "}";
      events.push_back(std::move(e));
    }
    auto r = ingestor_->SubmitConnectorBatch({"default", "orders", checkpoint}, &events);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(log_->WaitDurable(r->wait_offset).ok());
    return *r;
  }
  std::string Durable() {
    auto cp = LoadDurableCheckpoint(log_.get(), store_.get(), "default", "orders");
    EXPECT_TRUE(cp.ok()) << cp.status().ToString();
    return cp.ok() ? *cp : "?";
  }
  void Drain() {
    StoreConsumer consumer(log_.get(), store_.get(), {});
    ASSERT_TRUE(consumer.RunUntilCaughtUp().ok());
  }

  std::string dir_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<Ingestor> ingestor_;
  uint64_t replayed_ = 0;
};

TEST_F(CheckpointStoreTest, NewestOfStoreAndLogAndSurvivesGarbageCollection) {
  EXPECT_EQ(Durable(), "");
  for (int p = 0; p < 20; ++p) Page("c" + std::to_string(p + 1), p * 10, 10);
  EXPECT_EQ(Durable(), "c20");  // only in the log so far
  Drain();
  ASSERT_TRUE(ingestor_->Snapshot().ok());
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_GT(log_->start_offset(), 0u) << "GC should have dropped the early segments";
  EXPECT_EQ(Durable(), "c20");  // from connector_checkpoints
  auto n = store_->CountEvents("default");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 200u);
  Page("c21", 200, 5);  // newer, in the log past the store's offset
  EXPECT_EQ(Durable(), "c21");
  Close();
  Open();
  EXPECT_EQ(Durable(), "c21");
}

TEST_F(CheckpointStoreTest, AllDuplicatePageStillMovesTheCheckpoint) {
  Page("c1", 0, 10);
  auto r = Page("c2", 0, 10);  // the same records again (a replay)
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_EQ(r.duplicates, 10u);
  EXPECT_EQ(Durable(), "c2");
  Drain();
  auto n = store_->CountEvents("default");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 10u);
}

TEST_F(CheckpointStoreTest, DedupeRecoveryReplaysConnectorRecords) {
  Page("c1", 0, 10);
  Close();
  Open();  // no dedupe snapshot: the index is rebuilt from the log
  EXPECT_EQ(replayed_, 10u);
  auto r = Page("c2", 5, 10);
  EXPECT_EQ(r.duplicates, 5u);
  EXPECT_EQ(r.accepted, 5u);
}

TEST_F(CheckpointStoreTest, RefusesWithoutAStore) {
  auto cp = LoadDurableCheckpoint(log_.get(), nullptr, "default", "orders");
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("[store] enabled"), std::string::npos);
}

}  // namespace
}  // namespace sluice
