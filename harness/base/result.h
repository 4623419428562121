// Errors as values: every fallible call returns Result<T>, whose error names
// the failing call and errno, e.g. "pidfd_getfd(pid 4711, fd 1): EPERM".
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace stubfuzz {

struct Error {
  std::string message;
  int err = 0;  // errno, if the error came from the kernel

  // "<call>: <ERRNO name>" from the current errno.
  static Error from_errno(std::string call, int e = errno);
};

std::string errno_name(int e);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace stubfuzz
