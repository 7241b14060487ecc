#include "ingest/dead_letter_codec.h"

#include <cstdint>
#include <cstring>

#include "common/varint.h"
#include "ingest/event_codec.h"

namespace sluice {

namespace {

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out->append(b, 4);
}

bool GetU32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  std::memcpy(v, in->data(), 4);
  in->remove_prefix(4);
  return true;
}

}  // namespace

std::string EncodeDeadLetters(const std::vector<RejectedEvent>& rejected) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(rejected.size()));
  EventBatchWriter batch;
  for (const RejectedEvent& r : rejected) {
    PutVarint(&out, r.error.size());
    out += r.error;
    PutU32(&out, static_cast<uint32_t>(r.schema_version));
    batch.Add(r.event);
  }
  out += batch.Finish();
  return out;
}

Status DecodeDeadLetters(std::string_view payload, std::vector<RejectedEvent>* out) {
  auto bad = [] { return Status::Corruption("malformed dead-letter record"); };
  uint32_t count;
  if (!GetU32(&payload, &count)) return bad();
  const size_t first = out->size();
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t len;
    uint32_t version;
    if (!GetVarint(&payload, &len) || len > payload.size()) return bad();
    RejectedEvent r;
    r.error.assign(payload.substr(0, len));
    payload.remove_prefix(len);
    if (!GetU32(&payload, &version)) return bad();
    r.schema_version = static_cast<int>(version);
    out->push_back(std::move(r));
  }
  EventBatchReader reader(payload);
  if (reader.count() != count) return bad();
  Status st;
  for (uint32_t i = 0; i < count; ++i) {
    if (!reader.Next(&(*out)[first + i].event, &st)) return st.ok() ? bad() : st;
  }
  Event extra;
  if (reader.Next(&extra, &st) || !st.ok()) return bad();
  return Status::OK();
}

}  // namespace sluice
