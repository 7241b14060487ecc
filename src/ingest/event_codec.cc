#include "ingest/event_codec.h"

#include <cstring>
#include <string>

#include "common/varint.h"

namespace sluice {
namespace {

// Everything after an event's length prefix: 8 length varints of at least 1 byte, the two
// i64 and the flags byte.
constexpr size_t kMinEventBody = 8 + 16 + 1;
constexpr uint8_t kFlagIdAssigned = 1;

void SetFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

void SetFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

bool GetString(std::string_view* in, std::string_view* s) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

// Sized first, then written through a pointer: one resize per event instead of ~20
// appends, each with its own capacity check (the encoder is on the ingest path).
void EncodeEvent(const Event& e, std::string* out) {
  const std::string* fields[] = {&e.tenant,       &e.event_id,   &e.type,    &e.user_id,
                                 &e.anonymous_id, &e.properties, &e.context, &e.source};
  size_t body = 16 + 1;
  for (const std::string* f : fields) body += VarintLength(f->size()) + f->size();
  const size_t start = out->size();
  out->resize(start + 4 + body);
  char* p = out->data() + start;
  SetFixed32(p, static_cast<uint32_t>(body));
  p += 4;
  for (const std::string* f : fields) {
    p = EncodeVarint(p, f->size());
    std::memcpy(p, f->data(), f->size());
    p += f->size();
  }
  SetFixed64(p, static_cast<uint64_t>(e.ts_us));
  SetFixed64(p + 8, static_cast<uint64_t>(e.received_at_us));
  p[16] = static_cast<char>(e.id_assigned ? kFlagIdAssigned : 0);
}

std::string EventBatchWriter::Finish() {
  SetFixed32(buf_.data(), count_);
  std::string out = std::move(buf_);
  buf_.assign(4, '\0');
  count_ = 0;
  return out;
}

EventBatchReader::EventBatchReader(std::string_view payload) {
  if (payload.size() < 4) {
    bad_header_ = true;
    return;
  }
  count_ = GetFixed32(payload.data());
  rest_ = payload.substr(4);
}

EventView ViewOf(const Event& e) {
  EventView v;
  v.tenant = e.tenant;
  v.event_id = e.event_id;
  v.type = e.type;
  v.user_id = e.user_id;
  v.anonymous_id = e.anonymous_id;
  v.properties = e.properties;
  v.context = e.context;
  v.source = e.source;
  v.ts_us = e.ts_us;
  v.received_at_us = e.received_at_us;
  v.id_assigned = e.id_assigned;
  return v;
}

bool EventBatchReader::Next(Event* e, Status* status) {
  EventView v;
  if (!Next(&v, status)) return false;
  e->tenant.assign(v.tenant);
  e->event_id.assign(v.event_id);
  e->type.assign(v.type);
  e->user_id.assign(v.user_id);
  e->anonymous_id.assign(v.anonymous_id);
  e->properties.assign(v.properties);
  e->context.assign(v.context);
  e->source.assign(v.source);
  e->ts_us = v.ts_us;
  e->received_at_us = v.received_at_us;
  e->id_assigned = v.id_assigned;
  return true;
}

bool EventBatchReader::Next(EventView* e, Status* status) {
  *status = Status::OK();
  if (bad_header_) {
    *status = Status::Corruption("event batch: payload shorter than its 4-byte header");
    return false;
  }
  if (seen_ == count_) {
    if (!rest_.empty()) {
      *status =
          Status::Corruption("event batch: " + std::to_string(rest_.size()) +
                             " bytes after the last of " + std::to_string(count_) + " events");
    }
    return false;
  }
  // Built only on failure: this is the replay hot path.
  auto fail = [&](std::string_view why) {
    *status = Status::Corruption("event batch: event " + std::to_string(seen_) + " of " +
                                 std::to_string(count_) + ": " + std::string(why));
    return false;
  };
  if (rest_.size() < 4) return fail("truncated length prefix");
  const uint32_t len = GetFixed32(rest_.data());
  if (len > rest_.size() - 4) return fail("length " + std::to_string(len) + " past the end");
  if (len < kMinEventBody) return fail("length " + std::to_string(len) + " too small");
  std::string_view in = rest_.substr(4, len);
  const bool strings_ok = GetString(&in, &e->tenant) && GetString(&in, &e->event_id) &&
                          GetString(&in, &e->type) && GetString(&in, &e->user_id) &&
                          GetString(&in, &e->anonymous_id) && GetString(&in, &e->properties) &&
                          GetString(&in, &e->context) && GetString(&in, &e->source);
  // The fixed tail must fill the event exactly: anything else means a length is off.
  if (!strings_ok || in.size() != 17) return fail("fields do not match the event length");
  const uint8_t flags = static_cast<uint8_t>(in[16]);
  if (flags & ~kFlagIdAssigned) return fail("unknown flags");
  e->ts_us = static_cast<int64_t>(GetFixed64(in.data()));
  e->received_at_us = static_cast<int64_t>(GetFixed64(in.data() + 8));
  e->id_assigned = flags & kFlagIdAssigned;
  rest_.remove_prefix(4 + len);
  ++seen_;
  return true;
}

}  // namespace sluice
