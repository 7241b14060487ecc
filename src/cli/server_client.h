// How CLI commands talk to a running server (--url): the one place that presents the API
// key (--key, else $SLUICE_API_KEY) and turns an error answer into one line.
#pragma once

#include <curl/curl.h>

#include <string>

namespace sluice {

// The key given with --key; empty falls back to $SLUICE_API_KEY.
void SetCliApiKey(std::string key);
// Appends "Authorization: Bearer KEY" when a key is known.
curl_slist* AppendAuthHeader(curl_slist* headers);

struct ServerReply {
  long status = 0;  // 0 when the request never got an answer
  std::string body;
  std::string error;  // transport error, or the server's "error" text for a non-2xx
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
};

// `method` GET|POST|PUT|DELETE to base_url + path (which may carry a query string), with a
// JSON `body` for POST and PUT.
ServerReply CallServer(const std::string& method, const std::string& base_url,
                       const std::string& path, const std::string& body = "");

// Escapes a query-string value.
std::string UrlEscape(const std::string& s);

}  // namespace sluice
