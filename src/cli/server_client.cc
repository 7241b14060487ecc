#include "cli/server_client.h"

#include <simdjson.h>

#include <cstdlib>

namespace sluice {

namespace {

std::string& CliKey() {
  static std::string key;
  return key;
}

size_t Collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

}  // namespace

void SetCliApiKey(std::string key) { CliKey() = std::move(key); }

curl_slist* AppendAuthHeader(curl_slist* headers) {
  std::string key = CliKey();
  if (key.empty()) {
    const char* env = std::getenv("SLUICE_API_KEY");
    if (env != nullptr) key = env;
  }
  if (key.empty()) return headers;
  return curl_slist_append(headers, ("Authorization: Bearer " + key).c_str());
}

ServerReply CallServer(const std::string& method, const std::string& base_url,
                       const std::string& path, const std::string& body) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  ServerReply reply;
  CURL* c = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = AppendAuthHeader(headers);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    reply.error = url + ": " + curl_easy_strerror(rc);
  } else if (reply.status < 200 || reply.status >= 300) {
    simdjson::dom::parser parser;
    std::string_view error;
    if (parser.parse(reply.body).get_object()["error"].get(error) == simdjson::SUCCESS) {
      reply.error = std::string(error);
    } else {
      reply.error = "server answered " + std::to_string(reply.status);
    }
  }
  return reply;
}

std::string UrlEscape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

}  // namespace sluice
