#include "common/status.h"

#include <cstring>

namespace sluice {

Status Status::FromErrno(std::string_view what, int err) {
  return IOError(std::string(what) + ": " + std::strerror(err));
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      name = "invalid argument";
      break;
    case Code::kNotFound:
      name = "not found";
      break;
    case Code::kCorruption:
      name = "corruption";
      break;
    case Code::kIOError:
      name = "I/O error";
      break;
    case Code::kUnavailable:
      name = "unavailable";
      break;
    case Code::kResourceExhausted:
      name = "resource exhausted";
      break;
    case Code::kDeadlineExceeded:
      name = "deadline exceeded";
      break;
    case Code::kPermissionDenied:
      name = "permission denied";
      break;
    case Code::kUnauthenticated:
      name = "unauthenticated";
      break;
    case Code::kInternal:
      name = "internal error";
      break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace sluice
