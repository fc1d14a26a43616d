#pragma once

// Encrypted private key files: Notary's format (read and write) and vouch's own (default).
//
// All functions here are pure (no I/O, no global state) and thread-safe. None throws.
// Secrets (passphrases, derived keys, plaintext key bytes) live only in SecretString /
// SecretBytes or are cleansed before the function returns; error messages never contain them.
//
// ------------------------------------------------------------------------------------------
// Formats read (one PEM block per file; text before the block is ignored, anything but
// whitespace after it is Reason::kTrailingData):
//
// 1. kNotary: "ENCRYPTED PRIVATE KEY", as Notary 0.6+ writes (notary:tuf/utils/pkcs8.go):
//      -----BEGIN ENCRYPTED PRIVATE KEY-----
//      gun: example.com/app            <- RFC 1421 headers; "gun" absent for root and
//      role: targets                      delegation keys; other headers (e.g. "path") ignored
//
//      <base64 of a PKCS#8 EncryptedPrivateKeyInfo>
//      -----END ENCRYPTED PRIVATE KEY-----
//    The body must be PBES2 with PBKDF2 and AES-256-CBC (16-byte IV). The PRF must be absent
//    (meaning HMAC-SHA1) or an explicit hmacWithSHA1: Notary ignores the PRF field and always
//    derives with HMAC-SHA1, so a file naming another PRF is not one Notary could read and is
//    refused (kUnsupportedAlgorithm). A keyLength field, if present, must be 32. The salt
//    (1..64 bytes) and iteration count come from the file; the count is checked against
//    KdfLimits BEFORE any derivation (< 1 -> kMalformed, above the cap -> kTooLarge).
//    THIS FORMAT HAS NO MAC. A wrong passphrase is detected only because the CBC padding or
//    the PKCS#8 plaintext then fails to parse; both map to Reason::kBadPassphrase. About 1 in
//    256 wrong passphrases yields valid padding and is caught by the PKCS#8 parse. Nothing
//    detects a tampered file beyond that; prefer kVouch for keys vouch owns.
//
// 2. kPlain: unencrypted "PRIVATE KEY" (PKCS#8, either flavor of PrivateKey::from_der), and
//    the traditional "EC PRIVATE KEY" (SEC1), "RSA PRIVATE KEY" (PKCS#1) and Notary's legacy
//    "ED25519 PRIVATE KEY" (raw public||seed||public, 96 bytes) blocks, with the same role/gun headers.
//    The passphrase is not used.
//
// 3. kLegacyPem: a traditional block (EC/RSA/ED25519 PRIVATE KEY) encrypted the way Notary
//    <= 0.3 (Go's x509.EncryptPEMBlock, OpenSSL's "traditional" PEM encryption) did:
//      Proc-Type: 4,ENCRYPTED
//      DEK-Info: AES-256-CBC,<32 hex digits IV>
//      role: root
//    The key is OpenSSL's EVP_BytesToKey(MD5, salt = IV[0..8), 1 round): fixed cost, no cap
//    needed, and no MAC either (bad padding or parse -> kBadPassphrase). Ciphers accepted:
//    AES-128/192/256-CBC and DES-EDE3-CBC; single DES -> kUnsupportedAlgorithm.
//
// 4. kVouch: "VOUCH ENCRYPTED PRIVATE KEY", vouch's default, authenticated format:
//      -----BEGIN VOUCH ENCRYPTED PRIVATE KEY-----
//      version: 1
//      role: targets
//      gun: example.com/app                  <- omitted when empty
//      kdf: argon2id
//      kdf-memory-kib: 19456                 <- Argon2 m (KiB), t, p, as canonical decimals
//      kdf-iterations: 2
//      kdf-parallelism: 1
//      salt: <base64, 16 bytes (8..64 accepted)>
//      cipher: aes-256-gcm
//      nonce: <base64, 12 bytes>
//
//      <base64 of ciphertext || 16-byte GCM tag>
//      -----END VOUCH ENCRYPTED PRIVATE KEY-----
//    key       = Argon2id(passphrase, salt, m, t, p, version 0x13), 32 bytes (no secret/ad
//                inputs)
//    plaintext = PrivateKey::to_pkcs8_der(Pkcs8Flavor::kStandard)
//    AAD       = "vouch-key-file\n" followed by every header, in the order above, as
//                "<name>: <value>\n"; the gun line is always present ("gun: \n" when empty).
//    Every header is thus bound by the MAC: editing the role, gun, costs, salt or nonce makes
//    decryption fail with kBadPassphrase (GCM cannot tell a wrong passphrase from a tampered
//    file). Headers may appear in any order on read, but each exactly once; unknown headers,
//    a missing header, a non-canonical number, version != 1 (kUnsupportedAlgorithm for an
//    unknown version, kdf or cipher) are refused before any derivation. Argon2 costs are
//    checked against KdfLimits before deriving (kTooLarge above a cap, kMalformed below the
//    Argon2 minimums t >= 1, p >= 1, m >= 8 * p).
//
// Header values (role, gun) are printable ASCII without leading/trailing spaces, at most
// kMaxHeaderValueLength bytes; a header name appears at most once (Go's PEM decoder would
// keep the last; we refuse the ambiguity: kMalformed).
// ------------------------------------------------------------------------------------------

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/private_key.h"
#include "keys/pem.h"  // PemBlock, parse_pem_block: the key files build on them
#include "keys/public_key.h"
#include "keys/secret.h"

namespace vouch::keys {

enum class KeyFileFormat {
  kVouch,      // "VOUCH ENCRYPTED PRIVATE KEY": Argon2id + AES-256-GCM (default for writing)
  kNotary,     // "ENCRYPTED PRIVATE KEY": PKCS#8 PBES2, PBKDF2-HMAC-SHA1, AES-256-CBC
  kPlain,      // unencrypted PRIVATE KEY / EC PRIVATE KEY / RSA PRIVATE KEY / ED25519 ...
  kLegacyPem,  // traditional PEM with Proc-Type: 4,ENCRYPTED and DEK-Info (read only)
};

std::string_view to_string(KeyFileFormat format);

// Maximum size of a key file accepted by any function here (RSA-4096 PEM is ~3.3 KiB).
inline constexpr std::size_t kMaxKeyFileSize = kMaxPemSize;
// Maximum length of a role or gun header value.
inline constexpr std::size_t kMaxHeaderValueLength = kMaxPemHeaderValueLength;

// What a key file says about itself without a passphrase.
struct KeyFileInfo {
  std::string role;  // the "role" header; empty if absent
  std::string gun;   // the "gun" header; empty if absent
  KeyFileFormat format = KeyFileFormat::kVouch;
  bool encrypted = true;  // false only for kPlain
};

// Argon2id costs. The defaults are for key files a person or a CI job unlocks on every
// command: m = 19 MiB, t = 2, p = 1, the OWASP Password Storage Cheat Sheet's Argon2id
// setting (equivalent in cost to its m = 46 MiB, t = 1). Measured with Botan on a 2-core
// machine: ~27 ms per derivation, where m = 64 MiB, t = 3 took ~390 ms and, with two keys to
// unlock, made up 96% of a `publish`. An attacker still pays 19 MiB of memory per guess;
// Notary's own files (PBKDF2-HMAC-SHA1, 2,048 rounds) cost ~1 ms and no memory.
struct Argon2Params {
  std::uint32_t memory_kib = 19 * 1024;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

// Costs for a secret derived once per process start, e.g. vouch-signer's key-encryption key
// (RFC 9106's second recommended setting without its parallelism: ~0.4 s).
inline constexpr Argon2Params kArgon2StartupParams{64 * 1024, 3, 1};

// Caps on cost parameters read from a file, so that a hostile or corrupt file cannot make
// us spend minutes of CPU or gigabytes of memory. Checked before any derivation; a value
// above a cap is Reason::kTooLarge. Worst case at the defaults: PBKDF2-SHA1 10M rounds is
// ~5 s; Argon2id 1 GiB x 16 passes is ~30 s and 1 GiB of memory
// (64 MiB x 3 measured at ~0.4 s of CPU). Services that decrypt
// files from less trusted places should lower them.
struct KdfLimits {
  std::uint64_t max_pbkdf2_iterations = 10'000'000;
  std::uint32_t max_argon2_memory_kib = 1024 * 1024;  // 1 GiB
  std::uint32_t max_argon2_iterations = 16;
  std::uint32_t max_argon2_parallelism = 16;
};

// How encrypt_key_file writes.
struct WriteOptions {
  // kVouch (default) or kNotary. kPlain and kLegacyPem cannot be written
  // (kUnsupportedAlgorithm): vouch never writes a private key unencrypted.
  KeyFileFormat format = KeyFileFormat::kVouch;
  // kVouch: Argon2id costs. Must satisfy the Argon2 minimums and the default KdfLimits, so
  // that what we write we can read back (else kInvalidArgument / kTooLarge).
  Argon2Params argon2;
  // kNotary: PBKDF2-HMAC-SHA1 rounds. Default 1,000,000 (~0.5 s); Notary itself writes
  // 2,048 but reads whatever the file says. 1..KdfLimits{}.max_pbkdf2_iterations.
  std::uint32_t pbkdf2_iterations = 1'000'000;
  // kNotary: also write a "path: <canonical key ID>" header, as `notary key export` does.
  // `notary key import` (0.7) refuses an encrypted key without it ("key may be encrypted
  // and does not contain path header"), so set this for files meant for `notary key import`;
  // files inside a trust directory do not need it.
  bool notary_path_header = false;
};

struct DecryptedKey {
  PrivateKey key;
  KeyFileInfo info;
};

// Reads a key file in any of the formats above and returns the key and its headers.
// `passphrase` is ignored for kPlain. Errors:
//   kTooLarge      the file exceeds kMaxKeyFileSize, or a KDF cost exceeds `limits`
//   kMalformed     not PEM, bad base64, bad headers, unparsable DER structure, costs < 1
//   kTrailingData  non-whitespace after the PEM block
//   kUnsupportedAlgorithm  another PEM type, KDF, PRF, cipher or version
//   kBadPassphrase wrong passphrase, or (formats without a MAC) a corrupted ciphertext, or
//                  (kVouch) any edited header or byte
//   kKeyTooSmall / kUnsupportedAlgorithm from PrivateKey::from_der for a key we refuse
//   kInternal      OpenSSL or Botan failed unexpectedly
Result<DecryptedKey> decrypt_key_file(std::string_view pem, const SecretString& passphrase,
                                      const KdfLimits& limits = {});

// Reads only the headers and the format (no passphrase, no decryption). Does not validate
// the body beyond its base64 encoding, so a file that inspects fine may still fail to
// decrypt. Errors as for decrypt_key_file minus kBadPassphrase and the KDF caps.
Result<KeyFileInfo> inspect_key_file(std::string_view pem);

// Encrypts `key` for (role, gun) under `passphrase`, in options.format, with a fresh random
// salt and IV/nonce. `gun` may be empty (it is then omitted). An empty passphrase is refused
// (kNoPassphrase); role/gun values that cannot be PEM header values, or an empty role, are
// kInvalidArgument/kMalformed; costs out of range are kInvalidArgument (below minimum) or
// kTooLarge (above the default KdfLimits). Output ends with a newline, base64 in 64-column
// lines, headers "name: value" (Notary format: headers sorted by name, as Go writes them).
Result<std::string> encrypt_key_file(const PrivateKey& key, std::string_view role,
                                     std::string_view gun, const SecretString& passphrase,
                                     const WriteOptions& options = {});

// ---- Building blocks, exposed for tests and fuzzers ----------------------------------------

// Argon2id (RFC 9106, version 0x13) via Botan: `out_len` bytes from passphrase and salt.
// Parameters are NOT checked against KdfLimits here (callers do); Argon2's own minimums
// are (kMalformed). Botan exceptions become kInternal.
Result<SecretBytes> argon2id_derive(const SecretString& passphrase, ByteSpan salt,
                                    const Argon2Params& params, std::size_t out_len);

}  // namespace vouch::keys
