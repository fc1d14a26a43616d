#include "keys/keystore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <system_error>

#include "common/encoding.h"
#include "common/fs.h"
#include "keys/crypto.h"
#include "keys/private_file.h"

namespace vouch::keys {

namespace fs = std::filesystem;

// Where a file holding a key ID was found, with what its location says about it.
struct TrustDirKeyStore::Located {
  fs::path path;
  bool legacy = false;
  std::string role_hint;  // legacy: "_<role>" file-name suffix, or "root" under root_keys/
  std::string gun_hint;   // legacy: the directory under tuf_keys/
};

namespace {

constexpr std::string_view kRootKeysDir = "root_keys";  // notary.RootKeysSubdir
constexpr std::string_view kTufKeysDir = "tuf_keys";    // notary.NonRootKeysSubdir
constexpr std::size_t kMaxLegacyEntries = 10'000;

Error io_error(std::string what, const fs::path& path, int err) {
  return make_error(Reason::kIo, what + " " + path.string() + ": " + std::strerror(err));
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Parses "<id>.key" (and, if `legacy`, "<id>_<role>.key"). Returns false for anything else.
bool parse_key_file_name(std::string_view name, bool legacy, std::string& id, std::string& role) {
  constexpr std::string_view kExt = ".key";
  if (name.size() <= kExt.size() || !name.ends_with(kExt)) return false;
  std::string_view stem = name.substr(0, name.size() - kExt.size());
  std::string_view suffix;
  if (stem.size() > 64 && legacy && stem[64] == '_') {
    suffix = stem.substr(65);
    stem = stem.substr(0, 64);
    if (suffix.empty()) return false;
  }
  if (!is_valid_key_id(stem)) return false;
  id = std::string(stem);
  role = std::string(suffix);
  return true;
}

// The private directory (or a legacy subdirectory) must not be writable by others, or they
// could replace key files. Returns false if it does not exist.
Result<bool> check_dir(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return io_error("cannot stat", dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(Reason::kIo, dir.string() + " is not a directory");
  }
  if ((st.st_mode & 022) != 0) {
    return make_error(Reason::kInsecureFile, "directory " + dir.string() +
                                                 " is writable by group or others; run: "
                                                 "chmod 700 " + dir.string());
  }
  return true;
}

// Reads a key file after checking that only its owner can access it.
Result<SecretBytes> read_key_file(const fs::path& path) {
  auto contents = read_private_file(path, "key file", kMaxKeyFileSize);
  if (!contents && contents.error().reason == Reason::kNotFound) {
    return make_error(Reason::kUnknownKey, "no key file " + path.string());
  }
  return contents;
}

std::string_view as_text(const SecretBytes& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Creates `dir` and any missing parents with mode 0700 (existing ones are left alone).
Status make_private_dirs(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    VOUCH_RETURN_IF_ERROR(make_private_dirs(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("cannot create directory", dir, errno);
  }
  return {};
}

Status check_role(std::string_view role) {
  if (role.empty() || role.size() > kMaxHeaderValueLength ||
      !std::all_of(role.begin(), role.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return make_error(Reason::kBadRole,
                      "a key role must be 1..255 printable ASCII characters without spaces");
  }
  return {};
}

Error unknown_key(std::string_view key_id) {
  if (!is_valid_key_id(key_id)) {
    return make_error(Reason::kUnknownKey, "not a key ID (want 64 lowercase hex characters)");
  }
  return make_error(Reason::kUnknownKey, "no private key with ID " + std::string(key_id));
}

// One key file of a legacy layout: its key ID, path, role (from the name, "root" in
// root_keys/) and GUN (the directories below tuf_keys/, "" for none).
struct LegacyKey {
  std::string id;
  fs::path path;
  std::string role;
  std::string gun;
};

// Calls `on_key` for every key file of the legacy layouts below `priv` (private/root_keys/
// and private/tuf_keys/<gun>/...), reading at most kMaxLegacyEntries entries of each. Names
// are compared, never built from headers. A directory that check_dir refuses (too open, not
// a directory) goes to `on_problem`: an error it returns stops the scan and is returned; OK
// skips that directory and goes on.
Status scan_legacy_layouts(const fs::path& priv,
                           const std::function<void(const LegacyKey&)>& on_key,
                           const std::function<Status(const fs::path&, Error)>& on_problem) {
  std::error_code ec;
  const fs::path root_keys = priv / kRootKeysDir;
  if (auto has_root_keys = check_dir(root_keys); !has_root_keys) {
    VOUCH_RETURN_IF_ERROR(on_problem(root_keys, std::move(has_root_keys).error()));
  } else if (*has_root_keys) {
    std::size_t n = 0;
    for (fs::directory_iterator it(root_keys, ec), end; !ec && it != end; it.increment(ec)) {
      if (++n > kMaxLegacyEntries) break;
      LegacyKey key{"", it->path(), "", ""};
      if (!parse_key_file_name(key.path.filename().string(), true, key.id, key.role)) continue;
      if (key.role.empty()) key.role = "root";
      on_key(key);
    }
  }
  const fs::path tuf_keys = priv / kTufKeysDir;
  if (auto has_tuf_keys = check_dir(tuf_keys); !has_tuf_keys) {
    VOUCH_RETURN_IF_ERROR(on_problem(tuf_keys, std::move(has_tuf_keys).error()));
  } else if (*has_tuf_keys) {
    std::size_t n = 0;
    for (fs::recursive_directory_iterator it(tuf_keys, ec), end; !ec && it != end;
         it.increment(ec)) {
      if (++n > kMaxLegacyEntries) break;
      if (it->is_directory(ec)) {
        // Every directory on the way must be as private as private/ itself.
        if (auto ok = check_dir(it->path()); !ok) {
          VOUCH_RETURN_IF_ERROR(on_problem(it->path(), std::move(ok).error()));
          it.disable_recursion_pending();
        }
        continue;
      }
      LegacyKey key{"", it->path(), "", ""};
      if (!parse_key_file_name(key.path.filename().string(), true, key.id, key.role)) continue;
      const fs::path rel = key.path.parent_path().lexically_relative(tuf_keys);
      key.gun = rel == "." ? "" : rel.generic_string();
      on_key(key);
    }
  }
  return ok_status();
}

}  // namespace

bool is_valid_key_id(std::string_view key_id) {
  return key_id.size() == 64 && is_lower_hex(key_id);
}

bool is_base_role(std::string_view role) {
  return role == "root" || role == "targets" || role == "snapshot" || role == "timestamp";
}

Result<TrustDirKeyStore> TrustDirKeyStore::open(fs::path trust_dir, KeyStoreOptions options) {
  if (trust_dir.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kIo, "empty trust directory path");
  }
  if (options.max_passphrase_attempts < 1) options.max_passphrase_attempts = 1;
  TrustDirKeyStore store(std::move(trust_dir), std::move(options));
  VOUCH_RETURN_IF_ERROR(check_dir(store.private_dir()));
  return store;
}

Result<std::vector<TrustDirKeyStore::Located>> TrustDirKeyStore::locate(
    std::string_view key_id) const {
  std::vector<Located> found;
  if (!is_valid_key_id(key_id)) return found;
  const fs::path priv = private_dir();
  VOUCH_ASSIGN_OR_RETURN(const bool exists, check_dir(priv));
  if (!exists) return found;

  // Flat layout: the path is built only from a validated key ID.
  const fs::path flat = priv / (std::string(key_id) + ".key");
  struct stat st {};
  if (::stat(flat.c_str(), &st) == 0) {
    found.push_back({flat, false, "", ""});
  } else if (errno != ENOENT) {
    return io_error("cannot stat", flat, errno);
  }

  // Legacy layouts: any directory they cannot trust fails the lookup.
  VOUCH_RETURN_IF_ERROR(scan_legacy_layouts(
      priv,
      [&](const LegacyKey& key) {
        if (key.id == key_id) found.push_back({key.path, true, key.role, key.gun});
      },
      [](const fs::path&, Error error) -> Status { return error; }));
  return found;
}

namespace {

// Reads a located file's headers into an entry.
Result<KeyEntry> make_entry(std::string_view key_id, const fs::path& path, bool legacy,
                            const std::string& role_hint, const std::string& gun_hint) {
  VOUCH_ASSIGN_OR_RETURN(SecretBytes contents, read_key_file(path));
  auto info = inspect_key_file(as_text(contents));
  if (!info) return std::move(info).error().wrap(path.string());
  KeyEntry e;
  e.key_id = std::string(key_id);
  e.role = info->role.empty() ? role_hint : info->role;
  e.gun = info->gun.empty() ? gun_hint : info->gun;
  e.path = path;
  e.format = info->format;
  e.encrypted = info->encrypted;
  e.legacy_location = legacy;
  return e;
}

// A decrypted key encrypted again under a new passphrase asked from `next` (for a key without
// a role, under Notary's import default "delegation").
Result<std::string> reencrypt(std::string_view key_id, const DecryptedKey& d,
                              PassphraseSource& next, const WriteOptions& write) {
  const std::string role = d.info.role.empty() ? std::string("delegation") : d.info.role;
  PassphraseRequest request;
  request.key_id = std::string(key_id);
  request.role = role;
  request.gun = d.info.gun;
  request.create = true;
  VOUCH_ASSIGN_OR_RETURN(SecretString passphrase, next.get(request));
  return encrypt_key_file(d.key, role, d.info.gun, passphrase, write);
}

}  // namespace

Result<KeyListing> TrustDirKeyStore::list() const {
  KeyListing out;
  const fs::path priv = private_dir();
  VOUCH_ASSIGN_OR_RETURN(const bool exists, check_dir(priv));
  if (!exists) return out;

  std::map<std::string, KeyEntry> by_id;
  auto consider = [&](const std::string& id, const fs::path& path, bool legacy,
                      const std::string& role_hint, const std::string& gun_hint) {
    if (by_id.count(id) != 0) return;  // the flat layout (scanned first) wins
    auto e = make_entry(id, path, legacy, role_hint, gun_hint);
    if (!e) {
      out.problems.push_back({path, std::move(e).error()});
      return;
    }
    by_id.emplace(id, std::move(e).value());
  };

  std::error_code ec;
  for (fs::directory_iterator it(priv, ec), end; !ec && it != end; it.increment(ec)) {
    std::string id;
    std::string role;
    if (!parse_key_file_name(it->path().filename().string(), false, id, role)) continue;
    if (it->is_directory(ec)) continue;
    consider(id, it->path(), false, "", "");
  }
  if (ec) return io_error("cannot list", priv, ec.value());

  // Legacy layouts: a directory they cannot trust is reported, the others are listed.
  VOUCH_RETURN_IF_ERROR(scan_legacy_layouts(
      priv,
      [&](const LegacyKey& key) { consider(key.id, key.path, true, key.role, key.gun); },
      [&](const fs::path& path, Error error) -> Status {
        out.problems.push_back({path, std::move(error)});
        return ok_status();
      }));

  for (auto& [id, e] : by_id) out.keys.push_back(std::move(e));
  return out;
}

Result<KeyEntry> TrustDirKeyStore::find(std::string_view key_id) const {
  VOUCH_ASSIGN_OR_RETURN(std::vector<Located> found, locate(key_id));
  if (found.empty()) return unknown_key(key_id);
  const Located& l = found.front();
  return make_entry(key_id, l.path, l.legacy, l.role_hint, l.gun_hint);
}

Result<DecryptedKey> TrustDirKeyStore::load_entry(const KeyEntry& entry,
                                                  PassphraseSource& passphrases) const {
  VOUCH_ASSIGN_OR_RETURN(SecretBytes contents, read_key_file(entry.path));
  auto check_id = [&](Result<DecryptedKey> r) -> Result<DecryptedKey> {
    if (!r) return std::move(r).error().wrap(entry.path.string());
    if (r->key.public_key().id() != entry.key_id) {
      return make_error(Reason::kMalformed, "key file " + entry.path.string() +
                                                " holds key " + r->key.public_key().id() +
                                                ", not " + entry.key_id);
    }
    if (r->info.role.empty()) r->info.role = entry.role;
    if (r->info.gun.empty()) r->info.gun = entry.gun;
    return r;
  };
  if (!entry.encrypted) {
    return check_id(decrypt_key_file(as_text(contents), SecretString(), options_.limits));
  }
  PassphraseRequest request;
  request.key_id = entry.key_id;
  request.role = entry.role;
  request.gun = entry.gun;
  for (int attempt = 0; attempt < options_.max_passphrase_attempts; ++attempt) {
    request.attempt = attempt;
    VOUCH_ASSIGN_OR_RETURN(SecretString passphrase, passphrases.get(request));
    auto r = decrypt_key_file(as_text(contents), passphrase, options_.limits);
    if (r || r.error().reason != Reason::kBadPassphrase) return check_id(std::move(r));
  }
  return make_error(Reason::kBadPassphrase,
                    "wrong passphrase for key " + entry.key_id + " after " +
                        std::to_string(options_.max_passphrase_attempts) + " attempts");
}

Result<PrivateKey> TrustDirKeyStore::load(std::string_view key_id,
                                          PassphraseSource& passphrases) const {
  VOUCH_ASSIGN_OR_RETURN(KeyEntry entry, find(key_id));
  VOUCH_ASSIGN_OR_RETURN(DecryptedKey d, load_entry(entry, passphrases));
  return std::move(d.key);
}

Status TrustDirKeyStore::write_key_file(std::string_view key_id, std::string_view contents,
                                        bool replace) const {
  if (!is_valid_key_id(key_id)) return unknown_key(key_id);
  const fs::path priv = private_dir();
  VOUCH_RETURN_IF_ERROR(make_private_dirs(priv));
  VOUCH_RETURN_IF_ERROR(check_dir(priv));

  const fs::path final_path = priv / (std::string(key_id) + ".key");
  Status written = write_file_atomic(final_path, contents, replace ? Replace::kYes : Replace::kNo);
  if (!written && written.error().reason == Reason::kConflict) {
    return make_error(Reason::kConflict, "key file " + final_path.string() + " already exists");
  }
  return written;
}

Status TrustDirKeyStore::add(const PrivateKey& key, std::string_view role, std::string_view gun,
                             PassphraseSource& passphrases) const {
  VOUCH_RETURN_IF_ERROR(check_role(role));
  // Notary's GenericKeyStore.AddKey: root and delegation keys are GUN-independent.
  const bool gun_scoped = is_base_role(role) && role != "root";
  const std::string_view effective_gun = gun_scoped ? gun : std::string_view();
  if (gun_scoped && gun.empty()) {
    return make_error(Reason::kBadGun, "a " + std::string(role) + " key needs a GUN");
  }
  const std::string& key_id = key.public_key().id();
  VOUCH_ASSIGN_OR_RETURN(std::vector<Located> existing, locate(key_id));
  if (!existing.empty()) {
    return make_error(Reason::kConflict, "key " + key_id + " is already stored at " +
                                             existing.front().path.string());
  }
  PassphraseRequest request;
  request.key_id = key_id;
  request.role = std::string(role);
  request.gun = std::string(effective_gun);
  request.create = true;
  VOUCH_ASSIGN_OR_RETURN(SecretString passphrase, passphrases.get(request));
  VOUCH_ASSIGN_OR_RETURN(std::string pem, encrypt_key_file(key, role, effective_gun, passphrase,
                                                           options_.write));
  return write_key_file(key_id, pem, /*replace=*/false);
}

Status TrustDirKeyStore::remove(std::string_view key_id) const {
  VOUCH_ASSIGN_OR_RETURN(std::vector<Located> found, locate(key_id));
  if (found.empty()) return unknown_key(key_id);
  for (const Located& l : found) {
    if (::unlink(l.path.c_str()) != 0 && errno != ENOENT) {
      return io_error("cannot remove", l.path, errno);
    }
    VOUCH_RETURN_IF_ERROR(sync_dir(l.path.parent_path()));
  }
  return {};
}

Status TrustDirKeyStore::change_passphrase(std::string_view key_id, PassphraseSource& current,
                                           PassphraseSource& next,
                                           std::optional<KeyFileFormat> format) const {
  VOUCH_ASSIGN_OR_RETURN(std::vector<Located> found, locate(key_id));
  if (found.empty()) return unknown_key(key_id);
  const Located& l = found.front();
  VOUCH_ASSIGN_OR_RETURN(KeyEntry entry,
                         make_entry(key_id, l.path, l.legacy, l.role_hint, l.gun_hint));
  VOUCH_ASSIGN_OR_RETURN(DecryptedKey d, load_entry(entry, current));

  WriteOptions write = options_.write;
  if (format) {
    write.format = *format;
  } else if (entry.format == KeyFileFormat::kVouch || entry.format == KeyFileFormat::kNotary) {
    write.format = entry.format;
  }
  VOUCH_ASSIGN_OR_RETURN(std::string pem, reencrypt(key_id, d, next, write));
  VOUCH_RETURN_IF_ERROR(write_key_file(key_id, pem, /*replace=*/true));
  for (const Located& old : found) {
    if (!old.legacy) continue;
    if (::unlink(old.path.c_str()) != 0 && errno != ENOENT) {
      return io_error("cannot remove", old.path, errno);
    }
  }
  return {};
}

Result<std::string> TrustDirKeyStore::export_key(std::string_view key_id,
                                                 PassphraseSource& current,
                                                 PassphraseSource& next,
                                                 const WriteOptions& options) const {
  VOUCH_ASSIGN_OR_RETURN(KeyEntry entry, find(key_id));
  VOUCH_ASSIGN_OR_RETURN(DecryptedKey d, load_entry(entry, current));
  WriteOptions write = options;
  if (write.format == KeyFileFormat::kNotary) write.notary_path_header = true;
  return reencrypt(key_id, d, next, write);
}

}  // namespace vouch::keys
