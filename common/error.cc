#include "common/error.h"

#include <string>

namespace vouch {

std::string_view to_string(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "CANCELLED";
    case Code::kUnknown: return "UNKNOWN";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kAborted: return "ABORTED";
    case Code::kOutOfRange: return "OUT_OF_RANGE";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kDataLoss: return "DATA_LOSS";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::kNone: return "none";
    case Reason::kMalformed: return "malformed";
    case Reason::kDuplicateKey: return "duplicate_key";
    case Reason::kInvalidUtf8: return "invalid_utf8";
    case Reason::kNotInteger: return "not_integer";
    case Reason::kTooLarge: return "too_large";
    case Reason::kTooDeep: return "too_deep";
    case Reason::kTrailingData: return "trailing_data";
    case Reason::kWrongType: return "wrong_type";
    case Reason::kUnsupportedAlgorithm: return "unsupported_algorithm";
    case Reason::kWrongMethod: return "wrong_method";
    case Reason::kBadSignature: return "bad_signature";
    case Reason::kKeyTooSmall: return "key_too_small";
    case Reason::kUnknownKey: return "unknown_key";
    case Reason::kBadCertificate: return "bad_certificate";
    case Reason::kThresholdNotMet: return "threshold_not_met";
    case Reason::kExpired: return "expired";
    case Reason::kBadVersion: return "bad_version";
    case Reason::kRollback: return "rollback";
    case Reason::kHashMismatch: return "hash_mismatch";
    case Reason::kLengthMismatch: return "length_mismatch";
    case Reason::kBadRole: return "bad_role";
    case Reason::kBadPath: return "bad_path";
    case Reason::kBadGun: return "bad_gun";
    case Reason::kBadPassphrase: return "bad_passphrase";
    case Reason::kNoPassphrase: return "no_passphrase";
    case Reason::kInsecureFile: return "insecure_file";
    case Reason::kIo: return "io";
    case Reason::kNotFound: return "not_found";
    case Reason::kConflict: return "conflict";
    case Reason::kInternal: return "internal";
    case Reason::kUnavailable: return "unavailable";
    case Reason::kNoCredentials: return "no_credentials";
    case Reason::kWrongIssuer: return "wrong_issuer";
    case Reason::kWrongAudience: return "wrong_audience";
    case Reason::kInsufficientScope: return "insufficient_scope";
    case Reason::kBadCredentials: return "bad_credentials";
    case Reason::kThrottled: return "throttled";
    case Reason::kPermissionDenied: return "permission_denied";
  }
  return "unknown";
}

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
