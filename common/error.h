#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vouch {

// Error codes, numerically equal to gRPC's status codes so that every transport maps them
// with one table. The code says what class of failure this is; Reason says which rule.
enum class Code : std::uint8_t {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The domain reason behind an error. Tests assert on Reason, never on message text.
// Append new values at the end; the numbers appear in logs.
enum class Reason : std::uint16_t {
  kNone = 0,
  // Input that is not what it claims to be.
  kMalformed,          // syntax or structure is wrong (JSON, PEM, DER, base64, ...)
  kDuplicateKey,       // a JSON object repeats a key
  kInvalidUtf8,        // a string is not valid UTF-8
  kNotInteger,         // a number that must be an integer is not (fraction, exponent, -0, overflow)
  kTooLarge,           // a size or count limit was exceeded
  kTooDeep,            // a nesting limit was exceeded
  kTrailingData,       // bytes after the end of a complete document
  kWrongType,          // a metadata file has an unexpected _type, or a value an unexpected JSON type
  // Keys and signatures.
  kUnsupportedAlgorithm,  // key type or signature method not supported
  kWrongMethod,           // signature method does not match the key type
  kBadSignature,          // a signature does not verify
  kKeyTooSmall,           // e.g. RSA below 2048 bits
  kUnknownKey,            // a key ID is not known where it is looked up
  kBadCertificate,        // an X.509 certificate is invalid, expired, badly signed, or wrong CN
  // TUF rules.
  kThresholdNotMet,  // not enough distinct valid signatures
  kExpired,          // metadata (or a certificate) is past its expiry
  kBadVersion,       // a version is out of range or not the one expected
  kRollback,         // a version is older than one already trusted or stored
  kHashMismatch,     // bytes do not match the hash that a parent role lists
  kLengthMismatch,   // bytes do not match the length that a parent role lists
  kBadRole,          // a role name is invalid, or not allowed here
  kBadPath,          // a target lies outside its delegation's paths
  kBadGun,           // a GUN is invalid
  // Secrets and storage.
  kBadPassphrase,    // a passphrase did not decrypt a key (MAC failure or bad padding)
  kNoPassphrase,     // no passphrase available and no terminal to ask on
  kInsecureFile,     // a key file or directory is readable by others
  kIo,               // a filesystem or OS call failed
  kNotFound,         // an item looked up does not exist
  kConflict,         // a concurrent writer won, or an item exists already
  kInternal,         // an invariant of our own code failed, or a library failed unexpectedly
  kUnavailable,      // a peer could not be reached
  // Authentication (Docker registry tokens): each refusal its own reason, for logs and metrics.
  kNoCredentials,      // the request carries no credentials (no bearer token)
  kWrongIssuer,        // a token from another issuer than the one configured
  kWrongAudience,      // a token for another service (audience)
  kInsufficientScope,  // valid credentials that do not grant the access asked for
  // Accounts (issue 14).
  kBadCredentials,     // a name and password or API token that do not authenticate
  kThrottled,          // too many failed attempts from one source: wait before retrying
  kPermissionDenied,   // an authenticated caller that may not do this
};

std::string_view to_string(Code code);
std::string_view to_string(Reason reason);

// An error: a Code for transports, a Reason for callers and tests, and a message for humans.
// The message may contain details of the input (never a secret) and is meant for logs and
// local users; network transports answer with a generic text for kInternal errors.
struct Error {
  Code code = Code::kUnknown;
  Reason reason = Reason::kNone;
  std::string message;

  // Prefixes the message with context, e.g. err.wrap("targets.json") -> "targets.json: ...".
  Error& wrap(std::string_view context) &;
  Error&& wrap(std::string_view context) &&;
};

// Builds an Error. The code is derived from the reason unless given.
Error make_error(Reason reason, std::string message);
Error make_error(Code code, Reason reason, std::string message);

// The Code that a Reason maps to by default (e.g. kBadSignature -> kInvalidArgument,
// kNotFound -> kNotFound, kIo -> kInternal).
Code default_code(Reason reason);

}  // namespace vouch
