// ParseQueryString (query_string.h).
#include "query/query_string.h"

namespace sluice {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("query string: bad percent-escape at \"" +
                                       std::string(s.substr(i, 3)) + "\"");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<QueryParams> ParseQueryString(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) {
    target.remove_prefix(q + 1);
  } else if (!target.empty() && target[0] == '/') {
    return QueryParams();  // a path without a query
  }
  if (auto h = target.find('#'); h != std::string_view::npos) target = target.substr(0, h);
  QueryParams params;
  while (!target.empty()) {
    const size_t amp = target.find('&');
    std::string_view piece = target.substr(0, amp);
    target = amp == std::string_view::npos ? std::string_view() : target.substr(amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    auto name = PercentDecode(piece.substr(0, eq));
    if (!name.ok()) return name.status();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = PercentDecode(piece.substr(eq + 1));
      if (!v.ok()) return v.status();
      value = std::move(*v);
    }
    params.emplace_back(std::move(*name), std::move(value));
  }
  return params;
}

}  // namespace sluice
