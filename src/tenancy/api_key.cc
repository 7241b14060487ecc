#include "tenancy/api_key.h"

#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>

namespace sluice {

namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Standard or URL-safe base64, padding optional.
bool DecodeBase64(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

}  // namespace

const char* RoleName(Role r) {
  switch (r) {
    case Role::kWrite:
      return "write";
    case Role::kRead:
      return "read";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "write") return Role::kWrite;
  if (name == "read") return Role::kRead;
  if (name == "admin") return Role::kAdmin;
  return Status::InvalidArgument("role must be write, read or admin, not \"" + std::string(name) +
                                 "\"");
}

Result<std::string> GenerateApiKey() {
  unsigned char raw[33];  // 32 random bytes, padded to a multiple of 3 for the encoding
  size_t got = 0;
  while (got < 32) {
    ssize_t n = getrandom(raw + got, 32 - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("getrandom", errno);
    }
    got += static_cast<size_t>(n);
  }
  raw[32] = 0;
  std::string key = "sk_";
  for (int i = 0; i < 33; i += 3) {
    uint32_t v = (uint32_t{raw[i]} << 16) | (uint32_t{raw[i + 1]} << 8) | raw[i + 2];
    key += kBase64Url[(v >> 18) & 63];
    key += kBase64Url[(v >> 12) & 63];
    key += kBase64Url[(v >> 6) & 63];
    key += kBase64Url[v & 63];
  }
  key.resize(3 + 43);  // 256 bits = 43 base64 characters; the rest encodes the padding
  return key;
}

std::string HashApiKey(std::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out(2 * SHA256_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

Result<std::string> ApiKeyFromAuthorization(std::string_view header) {
  header = TrimSpaces(header);
  if (header.empty()) {
    return Status::Unauthenticated(
        "an API key is required: send Authorization: Bearer KEY (or Basic with the key as user)");
  }
  const size_t sp = header.find(' ');
  const std::string_view scheme = header.substr(0, sp);
  const std::string_view rest = sp == std::string_view::npos ? "" : TrimSpaces(header.substr(sp));
  if (EqualsNoCase(scheme, "bearer")) {
    if (rest.empty() || rest.find(' ') != std::string_view::npos) {
      return Status::Unauthenticated("Authorization: Bearer needs exactly one key");
    }
    return std::string(rest);
  }
  if (EqualsNoCase(scheme, "basic")) {
    std::string decoded;
    if (rest.empty() || !DecodeBase64(rest, &decoded)) {
      return Status::Unauthenticated("Authorization: Basic credentials are not valid base64");
    }
    std::string key = decoded.substr(0, decoded.find(':'));
    if (key.empty()) {
      return Status::Unauthenticated("Authorization: Basic needs the API key as the user name");
    }
    return key;
  }
  return Status::Unauthenticated("Authorization must use the Bearer or Basic scheme");
}

}  // namespace sluice
