#include "ingest/event_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "expect_event.h"

namespace sluice {
namespace {

Event Sample(int i) {
  Event e;
  e.tenant = "acme";
  e.event_id = "id-" + std::to_string(i);
  e.id_assigned = i % 2 == 0;
  e.type = "page_view";
  e.ts_us = 1700000000000000 + i;
  e.received_at_us = -62135596800000000 + i;  // negative values survive the fixed i64
  e.user_id = i % 3 == 0 ? "" : "user-" + std::to_string(i);
  e.anonymous_id = std::string(i % 200, 'a');  // lengths across the 1/2-byte varint edge
  e.properties = R"({"path":"/x","n":)" + std::to_string(i) + "}";
  e.context = i % 5 == 0 ? "" : R"({"ip":"1.2.3.4"})";
  e.source = "http";
  return e;
}

// Reads the whole payload; returns the status that ended it.
Status ReadAll(std::string_view payload, std::vector<Event>* out) {
  EventBatchReader r(payload);
  Event e;
  Status st;
  while (r.Next(&e, &st)) out->push_back(e);
  return st;
}

TEST(EventCodec, RoundTripOne) {
  EventBatchWriter w;
  Event e = Sample(7);
  e.properties = "{\"bin\":\"" + std::string(1, '\0') + "\xff\",\"é\":\"😀\"}";
  w.Add(e);
  EXPECT_EQ(w.count(), 1u);
  const std::string payload = w.Finish();
  EXPECT_EQ(w.count(), 0u);
  std::vector<Event> got;
  ASSERT_TRUE(ReadAll(payload, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  ExpectSameEvent(got[0], e);
}

TEST(EventCodec, EmptyBatch) {
  EventBatchWriter w;
  const std::string payload = w.Finish();
  EXPECT_EQ(payload, std::string(4, '\0'));
  EventBatchReader r(payload);
  EXPECT_EQ(r.count(), 0u);
  Event e;
  Status st = Status::Internal("unset");
  EXPECT_FALSE(r.Next(&e, &st));
  EXPECT_TRUE(st.ok());
}

TEST(EventCodec, RoundTripMany) {
  EventBatchWriter w;
  std::vector<Event> in;
  for (int i = 0; i < 1000; ++i) {
    in.push_back(Sample(i));
    if (i % 2) {
      w.Add(in.back());
    } else {
      std::string enc;
      EncodeEvent(in.back(), &enc);
      w.AddEncoded(enc);
    }
  }
  // A big field: multi-byte varint length.
  in.back().properties = "{\"big\":\"" + std::string(100000, 'z') + "\"}";
  EventBatchWriter w2;
  for (const Event& e : in) w2.Add(e);
  const std::string payload = w2.Finish();
  EventBatchReader r(payload);
  EXPECT_EQ(r.count(), 1000u);
  std::vector<Event> got;
  ASSERT_TRUE(ReadAll(payload, &got).ok());
  ASSERT_EQ(got.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) ExpectSameEvent(got[i], in[i]);

  // The writer is reusable after Finish.
  w.Finish();
  w.Add(in[3]);
  got.clear();
  ASSERT_TRUE(ReadAll(w.Finish(), &got).ok());
  ASSERT_EQ(got.size(), 1u);
  ExpectSameEvent(got[0], in[3]);
}

TEST(EventCodec, EncodedLengthPrefixCoversTheEvent) {
  std::string enc;
  EncodeEvent(Sample(1), &enc);
  const uint32_t len =
      static_cast<unsigned char>(enc[0]) | static_cast<unsigned char>(enc[1]) << 8 |
      static_cast<unsigned char>(enc[2]) << 16 | static_cast<unsigned char>(enc[3]) << 24;
  EXPECT_EQ(len + 4, enc.size());
}

std::string ThreeEventPayload() {
  EventBatchWriter w;
  for (int i = 1; i <= 3; ++i) w.Add(Sample(i));
  return w.Finish();
}

TEST(EventCodec, EveryTruncationIsCorruption) {
  const std::string payload = ThreeEventPayload();
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    std::vector<Event> got;
    const Status st = ReadAll(std::string_view(payload).substr(0, cut), &got);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << "cut at " << cut;
    EXPECT_LT(got.size(), 3u);
  }
}

TEST(EventCodec, TrailingBytesAreCorruption) {
  const std::string payload = ThreeEventPayload() + "x";
  std::vector<Event> got;
  EXPECT_EQ(ReadAll(payload, &got).code(), Status::Code::kCorruption);
  EXPECT_EQ(got.size(), 3u);
}

TEST(EventCodec, CorruptBytesNeverCrash) {
  // Every byte flipped to a few values: the reader either decodes something or reports
  // Corruption; it never reads out of bounds (run under ASan to make that visible).
  const std::string payload = ThreeEventPayload();
  for (size_t i = 0; i < payload.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string bad = payload;
      bad[i] = static_cast<char>(v);
      std::vector<Event> got;
      const Status st = ReadAll(bad, &got);
      EXPECT_TRUE(st.ok() || st.code() == Status::Code::kCorruption);
      if (st.ok()) {
        EXPECT_EQ(got.size(), 3u);
      }
    }
  }
}

TEST(EventCodec, CountLargerThanEventsIsCorruption) {
  std::string payload = ThreeEventPayload();
  payload[0] = 4;
  std::vector<Event> got;
  EXPECT_EQ(ReadAll(payload, &got).code(), Status::Code::kCorruption);
  payload[0] = 2;
  got.clear();
  EXPECT_EQ(ReadAll(payload, &got).code(), Status::Code::kCorruption);  // trailing event
}

TEST(EventCodec, BadLengthsAreCorruption) {
  std::string enc;
  EncodeEvent(Sample(1), &enc);
  std::string payload = std::string("\x01\0\0\0", 4) + enc;
  // Event length one byte short / long of its fields.
  for (int delta : {-1, 1}) {
    std::string bad = payload + "z";
    bad[4] = static_cast<char>(static_cast<unsigned char>(bad[4]) + delta);
    std::vector<Event> got;
    EXPECT_EQ(ReadAll(bad, &got).code(), Status::Code::kCorruption) << delta;
  }
  // A string length running past the event.
  std::string bad = payload;
  bad[8] = '\x7f';  // tenant length
  std::vector<Event> got;
  EXPECT_EQ(ReadAll(bad, &got).code(), Status::Code::kCorruption);
  // An overlong varint.
  std::string overlong = std::string("\x01\0\0\0", 4);
  std::string body(11, '\x80');
  body += std::string(30, '\0');
  const uint32_t n = static_cast<uint32_t>(body.size());
  overlong += std::string{static_cast<char>(n), 0, 0, 0} + body;
  got.clear();
  EXPECT_EQ(ReadAll(overlong, &got).code(), Status::Code::kCorruption);
  // Unknown flag bits.
  std::string flags = payload;
  flags.back() = '\x02';
  got.clear();
  EXPECT_EQ(ReadAll(flags, &got).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace sluice
