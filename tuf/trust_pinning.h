#pragma once

// Trust pinning for root metadata: which root certificates may anchor a GUN's trust
// (REFERENCE §3.3; Notary's trustpinning/trustpin.go and certs.go). TrustedSet applies it to
// every root it accepts; see trusted_set.h for when TOFU applies.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/x509.h"

namespace vouch::tuf {

// The "trust_pinning" section of the client configuration (config.json), with CA files
// already read into certificates (only main.cc reads files).
//
// Priority for one GUN, as in Notary: a `certs` entry > a `ca` entry > TOFU. Only one of them
// is used for a GUN.
struct TrustPinning {
  // GUN -> the key IDs of the root certificates that may sign that GUN's root, exactly as
  // root.json lists them (the IDs of the ecdsa-x509 / rsa-x509 keys, which `notary key list`
  // does not show: it prints the canonical IDs). A key ending in '*' is a prefix pattern
  // ("docker.io/library/*"). An exact GUN entry wins over patterns; among patterns the longest
  // wins. An entry with an empty list pins the GUN to nothing (every root is refused).
  std::map<std::string, std::vector<std::string>, std::less<>> certs;
  // GUN prefix -> CA certificates (a bundle). The root certificates must be issued directly by
  // one of them and be valid at the reference time (certificate chains inside root.json are
  // not supported: vouch accepts exactly one certificate per root key). The longest prefix
  // that matches the GUN wins. CA certificates that are not valid at the reference time or are
  // SHA-1 signed are ignored; if none is left, every root of that GUN is refused.
  std::map<std::string, std::vector<keys::Certificate>, std::less<>> ca;
  // When true, a GUN that no `certs` or `ca` entry covers cannot be trusted on first use: the
  // first root must come from the local cache (trusted before) or an out-of-band copy.
  // Default false: trust on first use over TLS ("TOFUS"), Notary's default.
  bool disable_tofu = false;
  // What the pinning (certs or ca) applies to. false (default, vouch's client): every root,
  // the one bootstrapped from and each new one of the chain, must satisfy it. true: it
  // anchors the chain only (TUF 5.3): a root seen for the first time (RootOrigin::kFirstUse)
  // must satisfy it; a root trusted before (RootOrigin::kTrustedBefore: it was verified back
  // to the pin already) and each later root are trusted because a threshold of the previous
  // root's keys and of their own keys signed them, so that a cross-signed root rotation
  // (`vouch key rotate <gun> root`) does not lock the repository out. Pinning that the old
  // root's keys could not forge would buy nothing: they can always sign a new root that
  // keeps them. The verifier's default (TrustSection::strict_pinning turns it off).
  bool anchor_only = false;
  // Whether a `certs` ID may also be a root key's canonical ID (keys::PublicKey::canonical_id:
  // the ID of the bare public key, which `vouch key list`, `vouch init` and `notary key list`
  // show). A root key is one certificate per GUN, so its certificate ID differs per repository
  // while its canonical ID is shared by every repository made with the same private key: only
  // the canonical ID can pin a whole prefix. Default false: Notary's config.json pins
  // certificate IDs only (vouch's client stays compatible); the verifier's root_keys accept
  // both.
  bool certs_match_canonical_id = false;
  // How error messages name the `certs` and `ca` pinning, e.g. the verifier's "root_keys of the
  // trust section for \"example.com\"". Empty (default): in config.json's terms (describe()).
  std::string certs_source;
  std::string ca_source;
};

enum class PinMode { kCertIds, kCa, kTofu };

// The pinning that applies to one GUN.
struct GunPinning {
  PinMode mode = PinMode::kTofu;
  // The `certs` or `ca` key that matched (empty for TOFU); for messages.
  std::string matched;
  std::vector<std::string> cert_ids;   // kCertIds
  bool canonical_ids = false;          // kCertIds: TrustPinning::certs_match_canonical_id
  // TrustPinning::certs_source or ca_source for the mode (empty for TOFU or when not given).
  std::string source;
  std::vector<keys::Certificate> cas;  // kCa: all configured, validity checked per use
  bool tofu_allowed = true;            // kTofu: !disable_tofu
};

// Selects the pinning for `gun` by the priority above.
GunPinning resolve_pinning(const TrustPinning& pinning, std::string_view gun);

// Whether root key `key` (an x509 key listed in root.json for the root role) satisfies `pin`:
// kCertIds -> key.id() is pinned (with canonical_ids, key.canonical_id() too); kCa -> its
// certificate was issued by one of the CA certificates (signature checked; with `at`, both
// must be valid at `at` and SHA-1 signed CAs are ignored; without `at`, validity periods are
// not checked); kTofu -> always. A key without a certificate never satisfies kCertIds or kCa.
bool pin_accepts(const GunPinning& pin, const keys::PublicKey& key, std::optional<TimePoint> at);

// A one-line description of `pin` for error messages: its `source` when given ("root_keys of
// the trust section for \"example.com\""), else in config.json's terms ("trust pinning by
// certificate ID (config entry \"docker.io/*\")", "trust pinning by CA (config entry
// \"docker.io/\")"), or "trust on first use".
std::string describe(const GunPinning& pin);

}  // namespace vouch::tuf
