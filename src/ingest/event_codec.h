// The binary form of events inside a log record (RecordType::kEventBatch).
//
// A batch payload is [u32 count] then `count` events, each [u32 length][fields] (u32 are
// little-endian); fields are varint-length-prefixed (LEB128) strings (tenant, event_id, type,
// user_id, anonymous_id, properties, context, source), two fixed little-endian i64 (ts_us,
// received_at_us) and a flags byte (bit 0: id_assigned). The per-event length lets a reader skip
// events cheaply.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "ingest/event.h"

namespace sluice {

// Appends one encoded event (with its length prefix) to `out`.
void EncodeEvent(const Event& e, std::string* out);

// Builds a batch payload from already-encoded events.
class EventBatchWriter {
 public:
  EventBatchWriter() { buf_.assign(4, '\0'); }
  void Add(const Event& e) {
    EncodeEvent(e, &buf_);
    ++count_;
  }
  void AddEncoded(std::string_view encoded_with_length) {
    buf_.append(encoded_with_length);
    ++count_;
  }
  void Reserve(size_t bytes) { buf_.reserve(bytes); }
  uint32_t count() const { return count_; }
  // The bytes so far; events added since size() was x start at data()[x].
  size_t size() const { return buf_.size(); }
  std::string_view data() const { return buf_; }
  // Finishes and returns the payload; the writer is empty afterwards.
  std::string Finish();

 private:
  std::string buf_;
  uint32_t count_ = 0;
};

// One encoded event's fields, pointing into the batch payload (valid while the payload
// is): what a consumer that only reads a few fields uses instead of copying an Event.
struct EventView {
  std::string_view tenant, event_id, type, user_id, anonymous_id, properties, context, source;
  int64_t ts_us = 0;
  int64_t received_at_us = 0;
  bool id_assigned = false;
};

// Views of `e`'s fields, valid while `e` is (the reverse of EventBatchReader::Next(Event*)).
EventView ViewOf(const Event& e);

// Iterates the events of a batch payload. Corruption if the bytes are malformed
// (which the log's CRC makes a bug, not a disk error). Strict: an event's fields must fill
// its length exactly, unknown flag bits and bytes after the last event are Corruption.
class EventBatchReader {
 public:
  explicit EventBatchReader(std::string_view payload);
  uint32_t count() const { return count_; }
  // Returns false at the end (status ok) or on malformed input (status set).
  bool Next(Event* e, Status* status);
  bool Next(EventView* e, Status* status);

 private:
  std::string_view rest_;
  uint32_t count_ = 0;
  uint32_t seen_ = 0;
  bool bad_header_ = false;  // payload shorter than the count; Next reports it
};

}  // namespace sluice
