#include "common/error.h"

#include <string>

#include "common/enum_names.h"

namespace vouch {

constexpr EnumName<Code> kCodeNames[] = {
    {Code::kOk, "OK"}, {Code::kCancelled, "CANCELLED"}, {Code::kUnknown, "UNKNOWN"},
    {Code::kInvalidArgument, "INVALID_ARGUMENT"}, {Code::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
    {Code::kNotFound, "NOT_FOUND"}, {Code::kAlreadyExists, "ALREADY_EXISTS"},
    {Code::kPermissionDenied, "PERMISSION_DENIED"},
    {Code::kResourceExhausted, "RESOURCE_EXHAUSTED"},
    {Code::kFailedPrecondition, "FAILED_PRECONDITION"}, {Code::kAborted, "ABORTED"},
    {Code::kOutOfRange, "OUT_OF_RANGE"}, {Code::kUnimplemented, "UNIMPLEMENTED"},
    {Code::kInternal, "INTERNAL"}, {Code::kUnavailable, "UNAVAILABLE"},
    {Code::kDataLoss, "DATA_LOSS"}, {Code::kUnauthenticated, "UNAUTHENTICATED"}};
static_assert(lists_every_value(kCodeNames, Code::kUnauthenticated));

std::string_view to_string(Code code) { return name_of(kCodeNames, code, "UNKNOWN"); }

constexpr EnumName<Reason> kReasonNames[] = {
    {Reason::kNone, "none"}, {Reason::kMalformed, "malformed"},
    {Reason::kDuplicateKey, "duplicate_key"}, {Reason::kInvalidUtf8, "invalid_utf8"},
    {Reason::kNotInteger, "not_integer"}, {Reason::kTooLarge, "too_large"},
    {Reason::kTooDeep, "too_deep"}, {Reason::kTrailingData, "trailing_data"},
    {Reason::kWrongType, "wrong_type"}, {Reason::kUnsupportedAlgorithm, "unsupported_algorithm"},
    {Reason::kWrongMethod, "wrong_method"}, {Reason::kBadSignature, "bad_signature"},
    {Reason::kKeyTooSmall, "key_too_small"}, {Reason::kUnknownKey, "unknown_key"},
    {Reason::kBadCertificate, "bad_certificate"}, {Reason::kThresholdNotMet, "threshold_not_met"},
    {Reason::kExpired, "expired"}, {Reason::kBadVersion, "bad_version"},
    {Reason::kRollback, "rollback"}, {Reason::kHashMismatch, "hash_mismatch"},
    {Reason::kLengthMismatch, "length_mismatch"}, {Reason::kBadRole, "bad_role"},
    {Reason::kBadPath, "bad_path"}, {Reason::kBadGun, "bad_gun"},
    {Reason::kBadPassphrase, "bad_passphrase"}, {Reason::kNoPassphrase, "no_passphrase"},
    {Reason::kInsecureFile, "insecure_file"}, {Reason::kIo, "io"}, {Reason::kNotFound, "not_found"},
    {Reason::kConflict, "conflict"}, {Reason::kInternal, "internal"},
    {Reason::kUnavailable, "unavailable"}, {Reason::kNoCredentials, "no_credentials"},
    {Reason::kWrongIssuer, "wrong_issuer"}, {Reason::kWrongAudience, "wrong_audience"},
    {Reason::kInsufficientScope, "insufficient_scope"},
    {Reason::kBadCredentials, "bad_credentials"}, {Reason::kThrottled, "throttled"},
    {Reason::kPermissionDenied, "permission_denied"}};
static_assert(lists_every_value(kReasonNames, Reason::kPermissionDenied));

std::string_view to_string(Reason reason) { return name_of(kReasonNames, reason); }

Code default_code(Reason reason) {
  switch (reason) {
    case Reason::kNotFound:
    case Reason::kUnknownKey:
      return Code::kNotFound;
    case Reason::kTooLarge:
    case Reason::kThrottled:
      return Code::kResourceExhausted;
    case Reason::kBadCredentials:
    case Reason::kNoCredentials:
      return Code::kUnauthenticated;
    case Reason::kPermissionDenied:
      return Code::kPermissionDenied;
    case Reason::kRollback:
    case Reason::kConflict:
      return Code::kFailedPrecondition;
    case Reason::kBadPassphrase:
    case Reason::kNoPassphrase:
    case Reason::kInsecureFile:
      return Code::kPermissionDenied;
    case Reason::kIo:
    case Reason::kInternal:
      return Code::kInternal;
    case Reason::kUnavailable:
      return Code::kUnavailable;
    case Reason::kUnsupportedAlgorithm:
      return Code::kInvalidArgument;
    default:
      return Code::kInvalidArgument;
  }
}

Error make_error(Reason reason, std::string message) {
  return Error{default_code(reason), reason, std::move(message)};
}

Error make_error(Code code, Reason reason, std::string message) {
  return Error{code, reason, std::move(message)};
}

Error& Error::wrap(std::string_view context) & {
  std::string m;
  m.reserve(context.size() + 2 + message.size());
  m.append(context).append(": ").append(message);
  message = std::move(m);
  return *this;
}

Error&& Error::wrap(std::string_view context) && { return std::move(wrap(context)); }

}  // namespace vouch
