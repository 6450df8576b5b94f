#include "core/result.hpp"

namespace nebula {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid_argument";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kUnauthorized: return "unauthorized";
    case ErrorKind::kTooLarge: return "too_large";
    case ErrorKind::kOverloaded: return "overloaded";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kNoSpace: return "no space";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace nebula
