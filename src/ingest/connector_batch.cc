// kConnectorBatch payload codec (connector_batch.h).
#include "ingest/connector_batch.h"

#include <cstdint>
#include <cstring>

namespace sluice {

namespace {

void PutString(std::string_view s, std::string* out) {
  uint32_t n = static_cast<uint32_t>(s.size());
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out->append(b, 4);
  out->append(s);
}

bool GetString(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= uint32_t(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(4);
  if (in->size() < n) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string EncodeConnectorBatch(const ConnectorCheckpoint& header,
                                 std::string_view event_batch_payload) {
  std::string out;
  out.reserve(12 + header.tenant.size() + header.connector.size() + header.checkpoint.size() +
              event_batch_payload.size());
  PutString(header.tenant, &out);
  PutString(header.connector, &out);
  PutString(header.checkpoint, &out);
  out.append(event_batch_payload);
  return out;
}

Status DecodeConnectorBatch(std::string_view payload, ConnectorCheckpoint* header,
                            std::string_view* events) {
  if (!GetString(&payload, &header->tenant) || !GetString(&payload, &header->connector) ||
      !GetString(&payload, &header->checkpoint)) {
    return Status::Corruption("connector batch: truncated header");
  }
  *events = payload;
  return Status::OK();
}

}  // namespace sluice
