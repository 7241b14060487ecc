#include "tenancy/storage_meter.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

// The flake this guards against: events acknowledged (durable in the log) but not yet
// taken by the store consumer are in neither the store's measurement nor, if a
// measurement replaced everything, the meter; each measurement forgot them and a tenant
// sending fast got extra batches past its quota.
TEST(StorageMeterTest, AMeasurementKeepsWhatTheStoreHasNotTakenYet) {
  StorageMeter m;
  m.Add("t", 100, 10);  // records ending at log offsets 10, 20, 30
  m.Add("t", 200, 20);
  m.Add("t", 400, 30);
  EXPECT_EQ(m.Get("t"), 700u);
  // The store has taken the first record only (its consumer offset is 10).
  m.Replace({{"t", 100}}, 10);
  EXPECT_EQ(m.Get("t"), 700u);
  // Now all three, and the measured figure is the truth (the store counts 5 bytes more).
  m.Replace({{"t", 705}}, 30);
  EXPECT_EQ(m.Get("t"), 705u);
}

TEST(StorageMeterTest, AnAdditionTheLastMeasurementCoversIsNotCountedTwice) {
  StorageMeter m;
  // The store took the record before the ingest thread got round to adding it.
  m.Replace({{"t", 100}}, 10);
  m.Add("t", 100, 10);
  EXPECT_EQ(m.Get("t"), 100u);
  m.Add("t", 50, 11);
  EXPECT_EQ(m.Get("t"), 150u);
}

TEST(StorageMeterTest, AnOlderMeasurementIsIgnored) {
  StorageMeter m;
  m.Add("t", 100, 10);
  m.Add("t", 200, 20);
  m.Replace({{"t", 300}}, 20);
  m.Replace({{"t", 100}}, 10);  // would lose the record at 20: it is in neither
  EXPECT_EQ(m.Get("t"), 300u);
}

TEST(StorageMeterTest, TenantsAreMeteredApart) {
  StorageMeter m;
  m.Add("a", 100, 10);
  m.Add("b", 1000, 20);
  m.Add("a", 10, 30);
  m.Replace({{"a", 100}, {"b", 1000}}, 20);
  EXPECT_EQ(m.Get("a"), 110u);
  EXPECT_EQ(m.Get("b"), 1000u);
  EXPECT_EQ(m.Get("c"), 0u);
}

TEST(StorageMeterTest, RetentionLowersTheFigureAtTheNextMeasurement) {
  StorageMeter m;
  m.Replace({{"a", 5000}, {"b", 70}}, 10);
  m.Add("a", 30, 20);
  m.Replace({{"b", 70}}, 15);  // a's rows are gone; its record at 20 is not taken yet
  EXPECT_EQ(m.Get("a"), 30u);
  m.Replace({{"b", 70}}, 20);  // taken, then deleted by retention
  EXPECT_EQ(m.Get("a"), 0u);
  EXPECT_EQ(m.Get("b"), 70u);
}

TEST(StorageMeterTest, ADeadLetterCountsItsErrorText) {
  RejectedEvent r;
  r.event.event_id = "e1";      // 2
  r.event.type = "purchase";    // 8, + 16 for ts and received_at
  r.event.properties = "{}";    // 2
  r.error = "missing \"sku\"";  // 13
  EXPECT_EQ(StoredBytesOf(r.event), 28u);
  EXPECT_EQ(StoredBytesOf(r), 41u);
}

}  // namespace
}  // namespace sluice
