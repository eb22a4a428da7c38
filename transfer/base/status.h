// Status and Result<T>: the project's error values.
//
// A Status is either OK or carries a code and a message. Context is added on the way up
// ("restore container web-1: runc restore: exit status 1: ...") and the whole chain is
// printed once, at the top. Result<T> holds a T or a non-OK Status.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace migrate {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // Bad input from a user, a file or a peer.
  kNotFound,            // A named thing does not exist.
  kAlreadyExists,       // A thing that must not exist does.
  kFailedPrecondition,  // The system is not in a state where the operation can run.
  kPermissionDenied,    // Authentication or authorisation refused.
  kUnavailable,         // A peer or service cannot be reached; retrying may help.
  kDeadlineExceeded,    // An operation ran past its deadline.
  kDataLoss,            // Corrupted or truncated data (digest mismatch, short stream).
  kAborted,             // Stopped on purpose (cancelled, fenced, rolled back).
  kUnimplemented,       // Not supported by this build or this runtime version.
  kIoError,             // A system call failed.
  kInternal,            // A bug: an invariant did not hold.
};

// "InvalidArgument" for kInvalidArgument, and so on: the names that cross the wire (the agent's
// API errors, a stream receiver's verdict).
std::string_view StatusCodeName(StatusCode code);
// The code a name stands for; kInternal for a name this build does not know (a peer of
// another version): an unknown failure is never taken for a known, retryable one.
StatusCode StatusCodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != StatusCode::kOk || message_.empty());
  }

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
  static Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
  // An I/O error from errno: "what: strerror(err)".
  static Status FromErrno(std::string_view what, int err);
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns this status with "context: " prepended to the message (OK stays OK).
  Status WithContext(std::string_view context) const&;
  Status WithContext(std::string_view context) &&;

  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> makes no sense");

  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result needs a value or a non-OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace migrate

#define MIGRATE_CONCAT_INNER_(a, b) a##b
#define MIGRATE_CONCAT_(a, b) MIGRATE_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` (a Status) is not OK.
#define MIGRATE_RETURN_IF_ERROR(expr)                   \
  do {                                                  \
    ::migrate::Status migrate_status_ = (expr);         \
    if (!migrate_status_.ok()) return migrate_status_;  \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its status from the enclosing function.
#define MIGRATE_ASSIGN_OR_RETURN(lhs, expr) \
  MIGRATE_ASSIGN_OR_RETURN_IMPL_(MIGRATE_CONCAT_(migrate_result_, __LINE__), lhs, expr)
#define MIGRATE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
