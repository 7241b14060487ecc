// API keys (SPEC §7): what a key is, how it is made, how it is kept and how a request
// presents it.
//
// A key is "sk_" + 32 bytes from the kernel CSPRNG (getrandom) in base64url: 256 bits of
// entropy. It is shown once, at creation; only its SHA-256 is stored. A slow password KDF
// (bcrypt, argon2) exists to make guessing low-entropy secrets expensive; guessing a
// 256-bit random key is already infeasible, so one SHA-256 (~0.3 µs) per request is as
// safe and lets authentication be a hash-table lookup (auth stays under 2% of ingest).
//
// A request presents its key as `Authorization: Bearer KEY`, or as Basic with the key as
// the user name and any (usually empty) password — what Segment's SDKs send with a write
// key.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

enum class Role { kWrite, kRead, kAdmin };

const char* RoleName(Role r);
Result<Role> ParseRole(std::string_view name);  // "write" | "read" | "admin"

// A fresh key: "sk_" + 43 base64url characters.
Result<std::string> GenerateApiKey();

// Lowercase hex SHA-256 of the key: what is stored and looked up.
std::string HashApiKey(std::string_view key);

// The key in an Authorization header value. Unauthenticated (with why) when the header
// is empty, uses another scheme, or its Basic credentials are not valid base64.
Result<std::string> ApiKeyFromAuthorization(std::string_view header);

}  // namespace sluice
