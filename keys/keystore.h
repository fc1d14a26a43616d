#pragma once

// TrustDirKeyStore: private keys in a Notary-compatible trust directory.
//
// Layout (REFERENCE §3.4, notary:trustmanager/keystore.go, storage/filestore.go):
//   <trust_dir>/private/<canonical key ID>.key             current layout (Notary 0.4+)
//   <trust_dir>/private/root_keys/<id>[_<role>].key        legacy (Notary <= 0.3), read only
//   <trust_dir>/private/tuf_keys/<gun>/<id>[_<role>].key   legacy, read only
// Files are written only in the flat layout, as <64 lowercase hex>.key, mode 0600, in
// directories created 0700. Legacy files are read where they are (Notary migrates them on
// open and deletes the old directories; we never delete them except through remove() or
// change_passphrase(), which moves the key to the flat layout).
//
// A file's role comes from its "role" header (for legacy files, else from the "_<role>"
// suffix of its name); its GUN from the "gun" header (for legacy tuf_keys files, else from the
// directory). GUNs are informational only: no path is ever built from a GUN or a role, and
// key IDs are validated as 64 lowercase hex characters before they touch a path
// (anything else: kUnknownKey for lookups, so "../x" never reaches the filesystem).
//
// Security checks, on every operation that reads or writes:
//   - the private directory (and legacy subdirectories) must not be writable by group or
//     others (mode & 022), else kInsecureFile;
//   - a key file must be a regular file (symlinks are followed) that group and others cannot
//     access at all (mode & 077 == 0), else kInsecureFile with a "chmod 600 <path>" hint;
//   - files larger than kMaxKeyFileSize are refused (kTooLarge).
//
// Writes are atomic: a temporary file in the same directory (O_EXCL, 0600), write, fsync,
// rename (add: without replacing an existing file), fsync of the directory (common/fs.h
// write_file_atomic). A crash leaves either the old file or the new one, plus possibly a hidden
// ".<id>.key.tmp*" file that list() ignores.
//
// Thread-safety: the store holds only its path and options; all methods are const-safe to
// call concurrently (they rely on the filesystem's atomic rename). The PassphraseSource
// passed in must tolerate the calls it receives.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/key_file.h"
#include "keys/passphrase.h"
#include "keys/private_key.h"

namespace vouch::keys {

// True iff `key_id` is 64 lowercase hex characters (a canonical key ID).
bool is_valid_key_id(std::string_view key_id);

// Whether `role` is one of root, targets, snapshot, timestamp.
bool is_base_role(std::string_view role);

struct KeyEntry {
  std::string key_id;              // canonical key ID (the file name)
  std::string role;                // from the header, else the legacy file name; may be empty
  std::string gun;                 // empty for root and delegation keys
  std::filesystem::path path;      // absolute or as given by the trust dir
  KeyFileFormat format = KeyFileFormat::kVouch;
  bool encrypted = true;
  bool legacy_location = false;    // under root_keys/ or tuf_keys/
};

// A file list() could not use (unreadable, insecure, not a key file). The message never
// contains key material.
struct KeyFileProblem {
  std::filesystem::path path;
  Error error;
};

struct KeyListing {
  std::vector<KeyEntry> keys;  // sorted by key ID; each ID once (flat layout wins)
  std::vector<KeyFileProblem> problems;
};

struct KeyStoreOptions {
  // Format and cost of files that add() writes (default: vouch format, Argon2id 19 MiB, t=2).
  // The notary CLI silently skips vouch-format files (`notary key list` does not show them;
  // checked with notary 0.7), so for a trust directory that the notary CLI must also use,
  // choose KeyFileFormat::kNotary (PBKDF2-HMAC-SHA1, 1,000,000 rounds by default, which
  // notary 0.7 reads). Costs must be within the default KdfLimits.
  WriteOptions write;
  // Caps on KDF costs when reading.
  KdfLimits limits;
  // Passphrase attempts per load(); the source decides whether it can offer another one
  // (a prompt can, environment variables cannot; see passphrase.h).
  int max_passphrase_attempts = 3;
};

class TrustDirKeyStore {
 public:
  // A store over `trust_dir` (e.g. ~/.notary or ~/.docker/trust). Nothing is created until
  // the first write. Fails with kInsecureFile if <trust_dir>/private exists and is writable
  // by group or others, kIo if it exists but is not a directory.
  static Result<TrustDirKeyStore> open(std::filesystem::path trust_dir,
                                       KeyStoreOptions options = {});

  const std::filesystem::path& trust_dir() const { return trust_dir_; }
  std::filesystem::path private_dir() const { return trust_dir_ / "private"; }
  const KeyStoreOptions& options() const { return options_; }

  // Every key file in the flat and legacy layouts, from headers only (no passphrase).
  // A missing private directory is an empty listing. Files whose names are not
  // <key ID>.key (or legacy <key ID>_<role>.key) are ignored silently; key files that
  // cannot be read or parsed, or are insecure, are reported in `problems`.
  Result<KeyListing> list() const;

  // The entry for one key ID (flat layout first, then legacy). kUnknownKey if the ID is
  // invalid or no file holds it; kInsecureFile / kMalformed / kIo as for reading the file.
  Result<KeyEntry> find(std::string_view key_id) const;

  // Encrypts `key` and stores it as private/<key.public_key().id()>.key, in
  // options().write.format, asking `passphrases` for a new passphrase (create = true).
  // The GUN is dropped for root and non-base roles (as Notary's AddKey does) and required for
  // targets, snapshot and timestamp (kBadGun). Role and GUN must be valid header values
  // (printable ASCII without spaces). kConflict if any file for the key ID already exists.
  // Creates the trust dir and private dir (0700) if needed.
  Status add(const PrivateKey& key, std::string_view role, std::string_view gun,
             PassphraseSource& passphrases) const;

  // Decrypts the key with this ID. For an encrypted file asks `passphrases` (attempt 0, 1,
  // ...) until it decrypts, the source gives up (its error is returned: kBadPassphrase from
  // non-interactive sources at attempt 1, kNoPassphrase without a terminal), or
  // max_passphrase_attempts wrong passphrases (kBadPassphrase). An unencrypted file needs no
  // passphrase. The decrypted key's canonical ID must equal `key_id`, else kMalformed (a
  // file under the wrong name). kUnknownKey if no file holds the ID.
  Result<PrivateKey> load(std::string_view key_id, PassphraseSource& passphrases) const;

  // Deletes every file that holds the key ID (flat and legacy). kUnknownKey if none.
  Status remove(std::string_view key_id) const;

  // Re-encrypts a key under a new passphrase: loads it with `current`, asks `next` for a new
  // one (create = true), writes it atomically to the flat layout (replacing the old file; a
  // legacy file is removed after the new one is in place). `format`: the format to write;
  // nullopt keeps the file's format if it was kVouch or kNotary, else uses
  // options().write.format. Costs come from options().write.
  Status change_passphrase(std::string_view key_id, PassphraseSource& current,
                           PassphraseSource& next,
                           std::optional<KeyFileFormat> format = std::nullopt) const;

  // Returns the key re-encrypted for export (nothing is written): loads it with `current`,
  // asks `next` for the export passphrase (create = true), encrypts with `options`. For
  // KeyFileFormat::kNotary a "path: <key ID>" header is always added, which
  // `notary key import` needs for an encrypted key.
  Result<std::string> export_key(std::string_view key_id, PassphraseSource& current,
                                 PassphraseSource& next, const WriteOptions& options) const;

 private:
  TrustDirKeyStore(std::filesystem::path trust_dir, KeyStoreOptions options)
      : trust_dir_(std::move(trust_dir)), options_(std::move(options)) {}

  struct Located;
  Result<std::vector<Located>> locate(std::string_view key_id) const;
  Result<DecryptedKey> load_entry(const KeyEntry& entry, PassphraseSource& passphrases) const;
  Status write_key_file(std::string_view key_id, std::string_view contents,
                        bool replace) const;

  std::filesystem::path trust_dir_;
  KeyStoreOptions options_;
};

}  // namespace vouch::keys
