// Parquet input for `sluice import` (SPEC §3.1): a file with our archive's columns —
// or any file with an event envelope's columns — is turned into NDJSON envelopes by
// DuckDB and then takes the same path as NDJSON (ParseBody -> Ingestor -> Log), so
// normalization, per-row errors and dedupe are exactly those of any other import.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// True when `path` starts with Parquet's magic bytes.
bool IsParquetFile(const std::string& path);

// Calls `batch` with NDJSON of about `batch_bytes`, one envelope per row, in file order.
// Recognized columns: event_id (or id, messageId, uuid), type (or event, name), ts (or
// timestamp), user_id, anonymous_id, properties, context; others are ignored. A tenant
// column is ignored too: the tenant comes from the caller, never from data.
Status ReadParquetAsNdjson(const std::string& path, size_t batch_bytes,
                           const std::function<Status(std::string_view ndjson)>& batch);

}  // namespace sluice
