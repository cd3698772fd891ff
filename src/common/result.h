// Result<T>: a value or an Error. Errors are values and never cross a layer as exceptions.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "common/error.h"

namespace enclave {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { assert(!ok()); return std::get<Error>(v_); }
  Error&& error() && { assert(!ok()); return std::get<Error>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)), has_error_(true) {}  // NOLINT

  bool ok() const { return !has_error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { assert(!ok()); return e_; }
  Error&& error() && { assert(!ok()); return std::move(e_); }

 private:
  Error e_;
  bool has_error_ = false;
};

using Status = Result<void>;

inline Status Ok() { return {}; }

}  // namespace enclave

// Propagates an error from an expression returning Result<...>.
#define ENCLAVE_CONCAT_INNER(a, b) a##b
#define ENCLAVE_CONCAT(a, b) ENCLAVE_CONCAT_INNER(a, b)
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    auto _enclave_status = (expr);                     \
    if (!_enclave_status.ok())                         \
      return std::move(_enclave_status).error();       \
  } while (0)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(ENCLAVE_CONCAT(_enclave_result_, __LINE__), lhs, expr)
