#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace nebula {

// What went wrong, in terms a handler can map to a status code. Expected
// failures travel as values (Result<T>); bugs are asserts.
enum class ErrorKind {
  kInvalidArgument,  // the caller sent something malformed (400)
  kNotFound,         // no such function, variant, record or image (404)
  kUnauthorized,     // missing or wrong bearer token (401)
  kTooLarge,         // a body or output over its limit (413)
  kOverloaded,       // admission refused; try again later (429/503)
  kTimeout,          // a deadline passed (504)
  kUnavailable,      // a dependency (Docker, the store) does not answer (503)
  kNoSpace,          // the data directory's disk is full (507); retry once space returns
  kConflict,         // the request contradicts what is stored (409), e.g. a secret in use
  kInternal,         // everything else (500)
};

[[nodiscard]] const char* to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

[[nodiscard]] inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

// A value or an Error. Small on purpose: has_value / value / error, and
// operator bool. Accessing the wrong alternative is a bug (assert).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  [[nodiscard]] const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  [[nodiscard]] T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const Error& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  [[nodiscard]] Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  [[nodiscard]] const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  [[nodiscard]] Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace nebula
