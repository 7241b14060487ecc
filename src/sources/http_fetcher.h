// One upstream HTTP GET with a timeout, through libcurl, keeping its connection alive
// across requests (a pull is many small requests to one host).
//
// Transport failures (timeout, connection reset, a body shorter than its Content-Length)
// come back as Unavailable so the caller retries them like a 5xx; an HTTP status, whatever
// it is, is a successful fetch for this layer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice {

struct FetchResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The value of header `name` (lower-case), empty when absent.
  std::string_view Header(std::string_view name) const;
};

class HttpFetcher {
 public:
  explicit HttpFetcher(double timeout_seconds);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // `fresh_connection` opens a new connection for this request instead of reusing one.
  // libcurl silently sends a request again when a reused connection dies before any
  // answer (a reset): one call, two requests upstream. Where that second request would
  // be over a rate limit, the caller asks for a fresh connection, which is never retried.
  Result<FetchResponse> Get(const std::string& url, const std::vector<std::string>& headers,
                            bool fresh_connection = false);
  // Percent-encodes a query parameter value.
  std::string Escape(const std::string& s);

 private:
  void* curl_;  // CURL*
  long timeout_ms_;
};

}  // namespace sluice
