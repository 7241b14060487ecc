// Checkpoint move validation (checkpoint_value.h).
#include "sources/checkpoint_value.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "ingest/timestamp.h"
#include "sources/entity_state.h"

namespace sluice {

namespace {

bool IsInteger(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  }
  errno = 0;
  long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *out = v;
  return true;
}

// "YYYY-MM-DD...": ParseTimestampString also takes numbers in any unit, which would make
// "1.7e9" silently mean seconds here, where a number means µs.
bool LooksLikeDate(const std::string& s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

Result<std::string> NormalizeCheckpoint(ConnectorKind kind, const std::string& value) {
  if (value.empty()) return value;
  switch (kind) {
    case ConnectorKind::kCursor:
      return value;
    case ConnectorKind::kTimeWindow: {
      int64_t us;
      if (IsInteger(value, &us)) return std::to_string(us);
      if (LooksLikeDate(value)) {
        auto t = ParseTimestampString(value);
        if (t.ok()) return std::to_string(*t);
        return Status::InvalidArgument("time-window checkpoint '" + value +
                                       "': " + t.status().message());
      }
      return Status::InvalidArgument("time-window checkpoint '" + value +
                                     "' is neither unix microseconds nor an RFC 3339 time");
    }
    case ConnectorKind::kSnapshot: {
      EntityTable table;
      Status s = DecodeEntityTable(value, &table);
      if (!s.ok()) return Status::InvalidArgument(s.message());
      return EncodeEntityTable(table);
    }
  }
  return value;
}

ConnectorKind KindFromCheckpoint(const std::string& checkpoint) {
  int64_t us;
  if (IsInteger(checkpoint, &us)) return ConnectorKind::kTimeWindow;
  EntityTable table;
  if (!checkpoint.empty() && checkpoint[0] == '{' && DecodeEntityTable(checkpoint, &table).ok()) {
    return ConnectorKind::kSnapshot;
  }
  return ConnectorKind::kCursor;
}

}  // namespace sluice
