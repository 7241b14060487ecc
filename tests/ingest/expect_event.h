// ExpectSameEvent: every field an Event carries through the log codec, compared with
// gtest's EXPECT_EQ, for tests that check events field by field (codec round trips, a
// recycled ParsedBody against a fresh one).
#pragma once

#include <gtest/gtest.h>

#include "ingest/event.h"

namespace sluice {

inline void ExpectSameEvent(const Event& a, const Event& b) {
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.id_assigned, b.id_assigned);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.ts_us, b.ts_us);
  EXPECT_EQ(a.received_at_us, b.received_at_us);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.anonymous_id, b.anonymous_id);
  EXPECT_EQ(a.properties, b.properties);
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.source, b.source);
}

}  // namespace sluice
