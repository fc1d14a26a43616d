#pragma once

// vouch-signer's key database: private keys, each encrypted at rest under a key derived from a
// passphrase alias (REFERENCE §2.2, DESIGN "Signer"), in a RecordStore (signer/record_store.h):
// RocksDB (one signer process) or PostgreSQL (signer/pg_record_store.h, several signer
// processes sharing the keys).
//
// ------------------------------------------------------------------------------------------
// Layout (records of the RecordStore; values are protobuf, proto/signer_store.proto):
//   "m"              StoreMeta: format version, per-database KDF salt and Argon2id costs
//   "a/<alias>"      AliasVerifier: a fixed plaintext sealed under the alias's key
//   "k/<key ID>"     KeyRecord: algorithm, role, GUN, public key, alias, sealed private key,
//                    created and last-used times
//   "u/<role><gun><algorithm>/<key ID>"   index of keys never used to sign (role and GUN
//                    length-prefixed so that no name aliases another), for CreateKey reuse
//
// Encryption: key-encryption key (KEK) of an alias = Argon2id(passphrase, salt || alias,
// the database's costs), 32 bytes. Each private key's PKCS#8 DER is sealed with
// AES-256-GCM under its alias's KEK with a fresh random 96-bit nonce; the associated data
// binds the key ID, the algorithm and the alias ("vouch-signer/key/v1\n<id>\n<alg>\n<alias>"),
// so moving a ciphertext to another record, or editing the record's algorithm or alias,
// fails authentication. After decryption the key's public half must equal the record's
// public key and key ID.
//
// Passphrases: `KeyStoreOptions::passphrases` is asked once per alias at open() (and at
// rotation for the new alias). open() refuses to return a half-working store:
//   - every alias that encrypts at least one key must have a passphrase (else
//     kNoPassphrase naming the alias), and it must open the alias's verifier (else
//     kBadPassphrase naming the alias);
//   - the default alias must have a passphrase; its verifier is created on first use;
//   - aliases with a verifier but no keys are checked when a passphrase is available and
//     skipped otherwise (an alias retired by rotation needs no passphrase any more).
//
// Several processes on one shared database (RecordStore::shared()): every write below is a
// RecordStore transaction, serialized with the other processes' writers, so the metadata
// (salt) is created once, an alias gets one verifier, and CreateKey for one triple never
// leaves two unused keys. A record that names an alias this process has not unlocked (another
// process rotated to it) unlocks that alias on demand (asking `passphrases` for it then, on
// the signing thread). sign() re-reads the record before using a cached key, so a key
// deleted through another process stops signing here too. The default alias for new keys is
// per process (rotate_alias with make_default, or a restart, changes it).
//
// Thread-safety: every method is thread-safe. Signing takes no store-wide lock: decrypted
// keys live in a bounded cache of shared PrivateKeys and are used outside any lock. The cache
// is split into up to 16 shards by key ID, each an LRU list under its own mutex (like
// RocksDB's LRUCache), so eviction is per shard: a key may be evicted while another shard
// has room, and the whole cache never holds more than `cache_capacity` keys. Writers (create,
// delete, last-use marking, each rotation chunk) are RecordStore transactions, serialised by
// its writers' lock so that a read-modify-write of a record never loses another's update. Rotation proceeds in chunks, each one
// atomic WriteBatch; readers see a record under its old or its new alias, and both keys are held
// while rotating.
// ------------------------------------------------------------------------------------------

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"
#include "keys/key_file.h"
#include "keys/public_key.h"
#include "keys/secret.h"
#include "keys/signer.h"
#include "signer/record_store.h"

namespace vouch::signer {

// Alias names: 1..50 characters of [A-Za-z0-9_] (Notary stores them in a varchar(50) and
// looks them up as NOTARY_SIGNER_<ALIAS uppercased>, so they must be valid in a variable name).
inline constexpr std::size_t kMaxAliasLength = 50;
bool is_valid_alias(std::string_view alias);

// Role and GUN values stored with a key: at most this many bytes, no control characters.
inline constexpr std::size_t kMaxNameLength = 255;

// Returns the passphrase of an alias. Reason::kNoPassphrase when none is configured; any
// other error is passed through by the store. Called from open() and rotate_alias() on the
// calling thread, and on a shared database also from sign() for an alias another process
// rotated to; never concurrently with itself.
using AliasPassphraseLookup = std::function<Result<keys::SecretString>(std::string_view alias)>;

struct KeyStoreOptions {
  // Directory of the RocksDB database, for open(options). Created (mode 0700 if the process
  // umask allows) if missing and create_if_missing is set. Unused by open(options, records).
  std::string db_path;
  bool create_if_missing = true;
  // Alias that encrypts newly created keys. Required; see is_valid_alias.
  std::string default_alias;
  AliasPassphraseLookup passphrases;
  // Argon2id costs of the KEK derivation, used only when the database is created (they are
  // then stored in it). Default: m = 64 MiB, t = 3, p = 1 (~0.4 s per alias at start).
  keys::Argon2Params kdf = keys::kArgon2StartupParams;
  // Most decrypted keys held in memory (>= 1). Default 1024.
  std::size_t cache_capacity = 1024;
  // A key's last-use time is written when it was never used, or when the stored time is
  // older than this. Default 60 s; 0 writes on every signature.
  std::chrono::seconds last_used_resolution{60};
  // Modulus of generated RSA keys (>= keys::kMinRsaBits). Default 4096.
  int rsa_bits = 4096;
  // Time source for created/last-used stamps. nullptr: the system clock. Borrowed.
  const Clock* clock = nullptr;
  // Tests only (leave empty): called by sign() with the key ID when it missed the cache and
  // has read the key's record, before it decrypts and caches the key, so that a test can hold
  // it there while delete_key runs.
  std::function<void(std::string_view key_id)> test_hook_after_read;
};

// What the store knows about a key, without its private half.
struct KeyInfo {
  std::string key_id;
  keys::KeyType type = keys::KeyType::kEcdsa;  // kEcdsa, kEd25519 or kRsa
  std::string role;
  std::string gun;
  std::string alias;
  keys::PublicKey public_key;
  TimePoint created;
  std::optional<TimePoint> last_used;  // nullopt: never used to sign
};

struct RotationResult {
  std::uint64_t keys_total = 0;    // keys in the database when the rotation finished
  std::uint64_t keys_rotated = 0;  // keys re-encrypted by this call
};

struct CacheStats {
  std::size_t entries = 0;
  std::size_t capacity = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;
};

class KeyStore {
 public:
  // Opens (or creates) the database and checks every passphrase as described above.
  // Errors: kInvalidArgument (bad options), kIo (RocksDB cannot open: missing directory
  // without create_if_missing, locked by another process, corrupt), kNoPassphrase /
  // kBadPassphrase naming the alias, kMalformed (unreadable records).
  static Result<std::unique_ptr<KeyStore>> open(KeyStoreOptions options);

  // The same over any record store (e.g. PgRecordStore), which the key store then owns.
  // Errors as above; kUnavailable when a database cannot be reached.
  static Result<std::unique_ptr<KeyStore>> open(KeyStoreOptions options,
                                                std::unique_ptr<RecordStore> records);

  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Returns a key for (role, gun, type): an existing key created for exactly that triple
  // and never used to sign (Notary's keydbstore semantics, so that a crashed or repeated
  // rotation does not pile up keys), else a new one encrypted under the default alias.
  // type must be kEcdsa (P-256), kEd25519 or kRsa, else kUnsupportedAlgorithm. Role and GUN
  // longer than kMaxNameLength or with control characters -> kInvalidArgument.
  // The new record is written durably (sync) before the key is returned.
  Result<keys::PublicKey> create_key(std::string_view role, std::string_view gun,
                                     keys::KeyType type);

  // Deletes a key (durably) and drops it from the cache; a sign() that missed the cache and
  // races the deletion never puts the key back. Deleting an unknown key succeeds.
  Status delete_key(std::string_view key_id);

  // The stored description of a key. kUnknownKey if there is none (including IDs that are
  // not 64 lowercase hex digits).
  Result<KeyInfo> key_info(std::string_view key_id);

  // Signs `content` with the key (see keys::PrivateKey::sign for the methods) and records
  // its last use. kUnknownKey if there is no such key; a record that fails authentication or
  // whose key does not match its public key -> Code::kDataLoss, Reason::kMalformed.
  Result<keys::Signature> sign(std::string_view key_id, ByteSpan content);

  // Re-encrypts every key not already under `new_alias` under it, `chunk_size` keys per
  // atomic, durable WriteBatch, releasing the writer lock between chunks so that signing and
  // key creation go on. The new alias's passphrase is looked up (kNoPassphrase if missing;
  // kBadPassphrase if it has a verifier that it does not open; else a verifier is written).
  // The old aliases' keys must be loaded (they are, for every alias in use at open()).
  // If make_default, keys created afterwards use new_alias. Safe to call concurrently with
  // everything else; concurrent rotations are serialised.
  Result<RotationResult> rotate_alias(std::string_view new_alias, bool make_default = true,
                                      std::size_t chunk_size = 256);

  // The alias that encrypts new keys.
  std::string default_alias() const;
  // Number of keys stored (a scan; for tools and tests).
  Result<std::uint64_t> key_count();
  CacheStats cache_stats() const;

  struct Impl;

 private:
  explicit KeyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::signer
