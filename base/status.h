// Status: the result of an operation that can fail, in the style of LevelDB's Status.
//
// A Status is either OK or carries a code and a message meant for an operator: what was wrong
// and, where we know it, what to do about it. Errors never throw across a layer; a function that
// can fail returns a Status (or a Result<T>, below). Messages never carry secret material.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mcx {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (a malformed URI, a zero period, ...)
    kNotFound,         // a thing asked for is not there (a token label, a key set, a file)
    kAlreadyExists,    // refusing to overwrite
    kPermissionDenied, // wrong PIN, a token that is not ours
    kDataLoss,         // stored data failed its integrity check (a flipped byte, a swapped blob)
    kUnavailable,      // a dependency is down (HSM, store); retrying later may help
    kInternal,         // a bug or a library failure we did not expect
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(Code::kAlreadyExists, std::move(msg)); }
  static Status PermissionDenied(std::string msg) { return Status(Code::kPermissionDenied, std::move(msg)); }
  static Status DataLoss(std::string msg) { return Status(Code::kDataLoss, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes the message with context, e.g. "loading the KMS certificate: ".
  Status Annotate(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// Result<T>: a value or the Status saying why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: must not be OK
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace mcx

#define MCX_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::mcx::Status mcx_status_ = (expr);    \
    if (!mcx_status_.ok()) return mcx_status_; \
  } while (0)
