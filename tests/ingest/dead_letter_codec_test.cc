#include "ingest/dead_letter_codec.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(DeadLetterCodecTest, RoundTripsEventsWithErrorsAndVersions) {
  std::vector<RejectedEvent> in(3);
  for (int i = 0; i < 3; ++i) {
    in[i].event.tenant = "t" + std::to_string(i);
    in[i].event.event_id = "id-" + std::to_string(i);
    in[i].event.type = "purchase";
    in[i].event.ts_us = 1700000000000000 + i;
    in[i].event.received_at_us = 1700000000000001 + i;
    in[i].event.properties = R"({"price":-1})";
    in[i].event.source = "http";
    in[i].error = std::string(i * 200, 'x') + "error " + std::to_string(i);  // varint > 1 byte
    in[i].schema_version = i + 1;
  }
  std::string payload = EncodeDeadLetters(in);
  std::vector<RejectedEvent> out;
  ASSERT_TRUE(DecodeDeadLetters(payload, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].error, in[i].error);
    EXPECT_EQ(out[i].schema_version, i + 1);
    EXPECT_EQ(out[i].event.tenant, in[i].event.tenant);
    EXPECT_EQ(out[i].event.event_id, in[i].event.event_id);
    EXPECT_EQ(out[i].event.ts_us, in[i].event.ts_us);
    EXPECT_EQ(out[i].event.properties, in[i].event.properties);
  }
}

TEST(DeadLetterCodecTest, TruncatedOrPaddedPayloadsAreCorruption) {
  std::vector<RejectedEvent> in(2);
  in[0].event.type = in[1].event.type = "t";
  in[0].error = in[1].error = "bad";
  std::string payload = EncodeDeadLetters(in);
  for (size_t n = 0; n < payload.size(); ++n) {
    std::vector<RejectedEvent> out;
    EXPECT_FALSE(DecodeDeadLetters(payload.substr(0, n), &out).ok()) << n;
  }
  std::vector<RejectedEvent> out;
  EXPECT_FALSE(DecodeDeadLetters(payload + "x", &out).ok());
}

}  // namespace
}  // namespace sluice
