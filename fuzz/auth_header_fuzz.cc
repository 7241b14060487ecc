// Any Authorization header value: extracting the key never crashes, refuses only with
// Unauthenticated, and a key it extracts is non-empty; "Bearer <that key>" gives it back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tenancy/api_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto key = sluice::ApiKeyFromAuthorization(in);
  if (!key.ok()) {
    if (key.status().code() != sluice::Status::Code::kUnauthenticated) abort();
    return 0;
  }
  if (key->empty()) abort();
  if (key->find_first_of(" \t") == std::string::npos) {
    auto again = sluice::ApiKeyFromAuthorization("Bearer " + *key);
    if (!again.ok() || *again != *key) abort();
  }
  (void)sluice::HashApiKey(*key);
  return 0;
}
