// HttpFetcher (http_fetcher.h) over libcurl's easy interface.
#include "sources/http_fetcher.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace sluice {

namespace {

size_t OnBody(char* p, size_t size, size_t n, void* ud) {
  static_cast<FetchResponse*>(ud)->body.append(p, size * n);
  return size * n;
}

size_t OnHeader(char* p, size_t size, size_t n, void* ud) {
  std::string_view line(p, size * n);
  auto* r = static_cast<FetchResponse*>(ud);
  if (line.rfind("HTTP/", 0) == 0) r->headers.clear();  // a new response (redirect, 100)
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
      v.remove_suffix(1);
    }
    r->headers.emplace_back(std::move(name), std::string(v));
  }
  return size * n;
}

}  // namespace

std::string_view FetchResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

HttpFetcher::HttpFetcher(double timeout_seconds)
    : timeout_ms_(static_cast<long>(timeout_seconds * 1000)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpFetcher::~HttpFetcher() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string HttpFetcher::Escape(const std::string& s) {
  char* e = curl_easy_escape(static_cast<CURL*>(curl_), s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

Result<FetchResponse> HttpFetcher::Get(const std::string& url,
                                       const std::vector<std::string>& headers,
                                       bool fresh_connection) {
  CURL* c = static_cast<CURL*>(curl_);
  FetchResponse r;
  struct curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms_, 10000L));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip etc. when upstream offers it
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, fresh_connection ? 1L : 0L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    return Status::Unavailable(std::string("GET failed: ") + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace sluice
