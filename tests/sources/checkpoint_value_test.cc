// Checkpoint move validation (sources/checkpoint_value.h): what each connector kind
// accepts, how a time window's RFC 3339 value is stored, and the kind read off a stored
// checkpoint.
#include "sources/checkpoint_value.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(CheckpointValueTest, TimeWindowTakesUnixMicrosOrRfc3339) {
  auto v = NormalizeCheckpoint(ConnectorKind::kTimeWindow, "1767225600000001");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "1767225600000001");
  v = NormalizeCheckpoint(ConnectorKind::kTimeWindow, "2026-01-01T00:00:00.5Z");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, "1767225600500000");
  v = NormalizeCheckpoint(ConnectorKind::kTimeWindow, "2025-12-31T19:00:00-05:00");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "1767225600000000");
  v = NormalizeCheckpoint(ConnectorKind::kTimeWindow, "");  // the start
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "");
  for (const char* bad :
       {"garbage", "1.7e9", "12abc", "2026-01-01T00:00:00", "99999999999999999999"}) {
    EXPECT_FALSE(NormalizeCheckpoint(ConnectorKind::kTimeWindow, bad).ok()) << bad;
  }
}

TEST(CheckpointValueTest, CursorTakesAnythingSnapshotOnlyAnEntityTable) {
  auto c = NormalizeCheckpoint(ConnectorKind::kCursor, "p80.t1 \t x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "p80.t1 \t x");
  EXPECT_FALSE(NormalizeCheckpoint(ConnectorKind::kSnapshot, "garbage").ok());
  EXPECT_FALSE(NormalizeCheckpoint(ConnectorKind::kSnapshot, R"({"e":{"a":[1]}})").ok());
  auto v = NormalizeCheckpoint(ConnectorKind::kSnapshot, R"({"e":{"a":["h",1,2,0]}})");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, R"({"e":{"a":["h",1,2,0,0]}})");
}

TEST(CheckpointValueTest, KindFromTheCheckpointsShape) {
  EXPECT_EQ(KindFromCheckpoint("1767225600000000"), ConnectorKind::kTimeWindow);
  EXPECT_EQ(KindFromCheckpoint(R"({"e":{}})"), ConnectorKind::kSnapshot);
  EXPECT_EQ(KindFromCheckpoint("p80.t1767225600000"), ConnectorKind::kCursor);
  EXPECT_EQ(KindFromCheckpoint("{not json"), ConnectorKind::kCursor);
}

}  // namespace
}  // namespace sluice
