#include "signer/key_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "keys/crypto.h"
#include "keys/private_key.h"
#include "proto/signer_store.pb.h"
#include "signer/aead.h"

namespace vouch::signer {

namespace pb = ::vouch::signer::store::v1;

bool is_valid_alias(std::string_view alias) {
  if (alias.empty() || alias.size() > kMaxAliasLength) return false;
  return std::all_of(alias.begin(), alias.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

namespace {

constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kSaltSize = 16;
constexpr std::string_view kMetaKey = "m";
constexpr std::string_view kAliasPrefix = "a/";
constexpr std::string_view kKeyPrefix = "k/";
constexpr std::string_view kUnusedPrefix = "u/";
constexpr std::string_view kVerifierPlaintext = "vouch-signer alias verifier v1";

std::int64_t to_us(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_us(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

bool is_key_id(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status check_name(std::string_view what, std::string_view value) {
  if (value.size() > kMaxNameLength) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      std::string(what) + " longer than 255 bytes");
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        std::string(what) + " contains a control character");
    }
  }
  return ok_status();
}

std::string key_key(std::string_view key_id) {
  std::string k(kKeyPrefix);
  k += key_id;
  return k;
}
std::string alias_key(std::string_view alias) {
  std::string k(kAliasPrefix);
  k += alias;
  return k;
}

void put_len_prefixed(std::string& out, std::string_view s) {
  // Lengths are <= kMaxNameLength (checked), so two bytes suffice.
  out.push_back(static_cast<char>((s.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(s.size() & 0xff));
  out += s;
}
// "u/" len(role) role len(gun) gun algorithm "/"
std::string unused_prefix(std::string_view role, std::string_view gun, std::string_view alg) {
  std::string k(kUnusedPrefix);
  put_len_prefixed(k, role);
  put_len_prefixed(k, gun);
  k += alg;
  k += '/';
  return k;
}

std::string key_aad(std::string_view key_id, std::string_view alg, std::string_view alias) {
  std::string aad = "vouch-signer/key/v1\n";
  aad += key_id;
  aad += '\n';
  aad += alg;
  aad += '\n';
  aad += alias;
  return aad;
}
std::string verifier_aad(std::string_view alias) {
  std::string aad = "vouch-signer/alias-verifier/v1\n";
  aad += alias;
  return aad;
}

Result<keys::KeyType> record_type(const pb::KeyRecord& r) {
  auto t = keys::parse_key_type(r.algorithm());
  if (!t || keys::is_x509(*t)) {
    return make_error(Reason::kMalformed, "key record " + r.key_id() + ": bad algorithm");
  }
  return *t;
}

// A decrypted key in the cache. `last_used_us` is what the store last wrote (0 = never).
struct CachedKey {
  CachedKey(std::string id, keys::PrivateKey k, std::int64_t last)
      : key_id(std::move(id)), key(std::move(k)), last_used_us(last) {}
  std::string key_id;
  keys::PrivateKey key;
  std::atomic<std::int64_t> last_used_us;
};

// A bounded LRU cache in shards, each with its own mutex; entries are shared so that a
// signature in progress keeps its key alive across eviction or deletion.
class KeyCache {
 public:
  explicit KeyCache(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
    const std::size_t n = std::min<std::size_t>(kMaxShards, capacity_);
    shards_ = std::vector<Shard>(n);
    for (std::size_t i = 0; i < n; ++i) {
      shards_[i].capacity = capacity_ / n + (i < capacity_ % n ? 1 : 0);
    }
  }

  std::shared_ptr<CachedKey> get(std::string_view key_id) {
    Shard& s = shard(key_id);
    std::lock_guard lock(s.mu);
    auto it = s.map.find(std::string(key_id));
    if (it == s.map.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    s.lru.splice(s.lru.begin(), s.lru, it->second.second);
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.first;
  }

  // Counts erase() calls in `key_id`'s shard. Read it before reading a record from the
  // database and hand it to insert(): a deletion in between is then noticed.
  std::uint64_t generation(std::string_view key_id) {
    Shard& s = shard(key_id);
    std::lock_guard lock(s.mu);
    return s.erasures;
  }

  // Inserts unless present; returns the entry that is cached afterwards. If a key of the
  // shard was erased since `generation` was read, nothing is inserted and `entry` is returned
  // uncached: it may be a key deleted meanwhile, which must not come back.
  std::shared_ptr<CachedKey> insert(std::shared_ptr<CachedKey> entry, std::uint64_t generation) {
    Shard& s = shard(entry->key_id);
    std::lock_guard lock(s.mu);
    if (s.erasures != generation) return entry;
    auto it = s.map.find(entry->key_id);
    if (it != s.map.end()) return it->second.first;
    while (s.map.size() >= s.capacity && !s.lru.empty()) {
      s.map.erase(s.lru.back());
      s.lru.pop_back();
      evictions_.fetch_add(1, std::memory_order_relaxed);
    }
    s.lru.push_front(entry->key_id);
    s.map.emplace(entry->key_id, std::make_pair(entry, s.lru.begin()));
    return entry;
  }

  void erase(std::string_view key_id) {
    Shard& s = shard(key_id);
    std::lock_guard lock(s.mu);
    ++s.erasures;
    auto it = s.map.find(std::string(key_id));
    if (it == s.map.end()) return;
    s.lru.erase(it->second.second);
    s.map.erase(it);
  }

  CacheStats stats() const {
    CacheStats st;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      st.entries += s.map.size();
    }
    st.capacity = capacity_;
    st.hits = hits_.load(std::memory_order_relaxed);
    st.misses = misses_.load(std::memory_order_relaxed);
    st.evictions = evictions_.load(std::memory_order_relaxed);
    return st;
  }

 private:
  static constexpr std::size_t kMaxShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::size_t capacity = 1;
    std::uint64_t erasures = 0;  // see generation()
    std::list<std::string> lru;  // front = most recent
    std::unordered_map<std::string,
                       std::pair<std::shared_ptr<CachedKey>, std::list<std::string>::iterator>>
        map;
  };
  Shard& shard(std::string_view key_id) {
    return shards_[std::hash<std::string_view>{}(key_id) % shards_.size()];
  }

  std::size_t capacity_;
  std::vector<Shard> shards_;
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace

struct KeyStore::Impl {
  KeyStoreOptions options;
  const Clock* clock = nullptr;
  std::unique_ptr<RecordStore> records;
  pb::StoreMeta meta;
  std::shared_ptr<spdlog::logger> log = log::get("signer");

  mutable std::shared_mutex keks_mu;  // guards keks and default_alias
  std::map<std::string, keys::SecretBytes, std::less<>> keks;
  std::string default_alias;

  std::mutex unlock_mu;  // one passphrase lookup and alias unlock at a time
  std::mutex rotate_mu;  // one rotation at a time (in this process)
  KeyCache cache;

  explicit Impl(KeyStoreOptions o)
      : options(std::move(o)), clock(options.clock), cache(options.cache_capacity) {
    if (clock == nullptr) clock = &SystemClock::instance();
  }

  // ---- raw records --------------------------------------------------------------------

  static Result<std::optional<pb::KeyRecord>> parse_record(
      std::string_view key_id, const std::optional<std::string>& raw) {
    if (!raw) return std::optional<pb::KeyRecord>();
    pb::KeyRecord r;
    if (!r.ParseFromString(*raw) || r.key_id() != key_id) {
      return make_error(Code::kDataLoss, Reason::kMalformed,
                        "key record " + std::string(key_id) + " is unreadable");
    }
    return std::optional<pb::KeyRecord>(std::move(r));
  }

  Result<std::optional<pb::KeyRecord>> get_record(std::string_view key_id) {
    VOUCH_ASSIGN_OR_RETURN(auto raw, records->get(key_key(key_id)));
    return parse_record(key_id, raw);
  }
  static Result<std::optional<pb::KeyRecord>> get_record(RecordStore::Txn& tx,
                                                         std::string_view key_id) {
    VOUCH_ASSIGN_OR_RETURN(auto raw, tx.get(key_key(key_id)));
    return parse_record(key_id, raw);
  }

  // ---- keys of aliases ----------------------------------------------------------------

  Result<keys::SecretBytes> derive_kek(std::string_view alias, const keys::SecretString& pass) {
    Bytes salt(meta.kdf_salt().begin(), meta.kdf_salt().end());
    salt.insert(salt.end(), alias.begin(), alias.end());
    keys::Argon2Params p;
    p.memory_kib = meta.argon2_memory_kib();
    p.iterations = meta.argon2_iterations();
    p.parallelism = meta.argon2_parallelism();
    return keys::argon2id_derive(pass, salt, p, aead::kKeySize);
  }

  Result<pb::AliasVerifier> make_verifier(std::string_view alias, const keys::SecretBytes& kek) {
    pb::AliasVerifier v;
    v.set_alias(std::string(alias));
    v.set_cipher(std::string(aead::kCipherName));
    Bytes nonce(aead::kNonceSize);
    VOUCH_RETURN_IF_ERROR(keys::random_bytes(nonce));
    const std::string aad = verifier_aad(alias);
    VOUCH_ASSIGN_OR_RETURN(Bytes sealed,
                           aead::seal(kek, nonce, as_bytes(aad), as_bytes(kVerifierPlaintext)));
    v.set_nonce(std::string(nonce.begin(), nonce.end()));
    v.set_ciphertext(std::string(sealed.begin(), sealed.end()));
    v.set_created_unix_us(to_us(clock->now()));
    return v;
  }

  // Derives the alias's KEK from its passphrase and checks it against the stored verifier,
  // writing a verifier if there is none. Errors name the alias.
  Result<keys::SecretBytes> unlock_alias(std::string_view alias, bool required) {
    auto pass =
        options.passphrases
            ? options.passphrases(alias)
            : Result<keys::SecretString>(make_error(Reason::kNoPassphrase, "no passphrase source"));
    if (!pass) {
      Error e = std::move(pass).error();
      if (e.reason == Reason::kNoPassphrase) {
        e.message = "no passphrase for alias '" + std::string(alias) + "'" +
                    (required ? "" : " (optional)");
      } else {
        e.wrap("passphrase for alias '" + std::string(alias) + "'");
      }
      return e;
    }
    if (pass->empty()) {
      return make_error(Reason::kNoPassphrase,
                        "empty passphrase for alias '" + std::string(alias) + "'");
    }
    VOUCH_ASSIGN_OR_RETURN(keys::SecretBytes kek, derive_kek(alias, *pass));
    // Verifiers are never deleted: one that exists is checked without taking the writers'
    // lock (so that an alias can be unlocked while a write transaction runs, e.g. during a
    // rotation on a shared database).
    VOUCH_ASSIGN_OR_RETURN(auto existing, records->get(alias_key(alias)));
    if (existing) {
      VOUCH_RETURN_IF_ERROR(check_verifier(alias, kek, *existing));
      return kek;
    }
    // None yet: write one, or check the one written meanwhile, under the writers' lock, so
    // that two processes unlocking a new alias at once agree on one verifier.
    VOUCH_ASSIGN_OR_RETURN(pb::AliasVerifier fresh, make_verifier(alias, kek));
    const Status written = records->write(
        [&](RecordStore::Txn& tx) -> Status {
          VOUCH_ASSIGN_OR_RETURN(auto raw, tx.get(alias_key(alias)));
          if (!raw) {
            tx.put(alias_key(alias), fresh.SerializeAsString());
            return ok_status();
          }
          return check_verifier(alias, kek, *raw);
        },
        /*sync=*/true);
    VOUCH_RETURN_IF_ERROR(written);
    return kek;
  }

  static Status check_verifier(std::string_view alias, const keys::SecretBytes& kek,
                               const std::string& raw_verifier) {
    pb::AliasVerifier v;
    if (!v.ParseFromString(raw_verifier) || v.alias() != alias || v.cipher() != aead::kCipherName) {
      return make_error(Reason::kMalformed,
                        "verifier of alias '" + std::string(alias) + "' is unreadable");
    }
    const std::string aad = verifier_aad(alias);
    auto opened = aead::open(kek, as_bytes(v.nonce()), as_bytes(aad), as_bytes(v.ciphertext()));
    if (!opened || as_string_view(opened->span()) != kVerifierPlaintext) {
      return make_error(Reason::kBadPassphrase,
                        "wrong passphrase for alias '" + std::string(alias) +
                            "': it does not open the alias's verifier in the key database");
    }
    return ok_status();
  }

  // The KEK of an alias already unlocked, copied out under the shared lock.
  Result<keys::SecretBytes> kek_of(std::string_view alias) const {
    std::shared_lock lock(keks_mu);
    auto it = keks.find(alias);
    if (it == keks.end()) {
      return make_error(Reason::kNoPassphrase,
                        "alias '" + std::string(alias) + "' is not unlocked");
    }
    return it->second.copy();
  }

  // kek_of, and on a shared database also an alias that another process rotated to after
  // this one opened: its passphrase is looked up and checked against its verifier now.
  Result<keys::SecretBytes> kek_or_unlock(std::string_view alias) {
    auto kek = kek_of(alias);
    if (kek || !records->shared() || !is_valid_alias(alias)) return kek;
    std::lock_guard lock(unlock_mu);
    if (auto again = kek_of(alias)) return again;
    VOUCH_ASSIGN_OR_RETURN(auto verifier, records->get(alias_key(alias)));
    if (!verifier) return kek;  // no such alias in the database: the record was altered
    VOUCH_ASSIGN_OR_RETURN(keys::SecretBytes unlocked, unlock_alias(alias, /*required=*/true));
    std::unique_lock keks_lock(keks_mu);
    keks.insert_or_assign(std::string(alias), unlocked.copy());
    log->info("unlocked alias {} (keys were rotated to it by another process)", alias);
    return unlocked;
  }

  // ---- sealing keys -------------------------------------------------------------------

  Status seal_into(pb::KeyRecord& r, const keys::PrivateKey& key, std::string_view alias,
                   const keys::SecretBytes& kek) {
    keys::SecretBytes der = key.to_pkcs8_der();
    Bytes nonce(aead::kNonceSize);
    VOUCH_RETURN_IF_ERROR(keys::random_bytes(nonce));
    const std::string aad = key_aad(r.key_id(), r.algorithm(), alias);
    VOUCH_ASSIGN_OR_RETURN(Bytes sealed, aead::seal(kek, nonce, as_bytes(aad), der.span()));
    r.set_alias(std::string(alias));
    r.set_cipher(std::string(aead::kCipherName));
    r.set_nonce(std::string(nonce.begin(), nonce.end()));
    r.set_ciphertext(std::string(sealed.begin(), sealed.end()));
    return ok_status();
  }

  Result<keys::PrivateKey> unseal(const pb::KeyRecord& r) {
    VOUCH_ASSIGN_OR_RETURN(keys::KeyType type, record_type(r));
    if (r.cipher() != aead::kCipherName) {
      return make_error(Code::kDataLoss, Reason::kMalformed,
                        "key record " + r.key_id() + ": unknown cipher");
    }
    VOUCH_ASSIGN_OR_RETURN(keys::SecretBytes kek, kek_or_unlock(r.alias()));
    const std::string aad = key_aad(r.key_id(), r.algorithm(), r.alias());
    auto der = aead::open(kek, as_bytes(r.nonce()), as_bytes(aad), as_bytes(r.ciphertext()));
    if (!der) {
      // The alias's passphrase was verified at open(), so this record was altered.
      return make_error(
          Code::kDataLoss, Reason::kMalformed,
          "key record " + r.key_id() + " failed authentication (tampered or corrupt)");
    }
    auto key = keys::PrivateKey::from_der(der->span());
    if (!key || key->type() != type || key->public_key().id() != r.key_id() ||
        key->public_key().public_bytes() != Bytes(r.public_key().begin(), r.public_key().end())) {
      return make_error(Code::kDataLoss, Reason::kMalformed,
                        "key record " + r.key_id() + ": private key does not match the record");
    }
    return std::move(key).value();
  }

  // ---- last use -----------------------------------------------------------------------

  void mark_used(CachedKey& entry, std::int64_t now_us) {
    std::int64_t last = entry.last_used_us.load(std::memory_order_relaxed);
    const std::int64_t resolution_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options.last_used_resolution).count();
    if (last != 0 && now_us - last < resolution_us) return;
    // One thread writes; the others see the new value and return.
    if (!entry.last_used_us.compare_exchange_strong(last, now_us)) return;
    // The first use matters for CreateKey's reuse rule: make it durable. Later refreshes
    // are informational.
    const bool first_use = last == 0;
    auto s = records->write(
        [&](RecordStore::Txn& tx) -> Status {
          auto rec = get_record(tx, entry.key_id);
          // Deleted meanwhile, or unreadable (logged by sign): nothing to record.
          if (!rec || !rec->has_value()) return ok_status();
          pb::KeyRecord& r = **rec;
          const bool never_used = r.last_used_unix_us() == 0;
          if (r.last_used_unix_us() >= now_us) return ok_status();  // another process's
          r.set_last_used_unix_us(now_us);
          tx.put(key_key(r.key_id()), r.SerializeAsString());
          if (never_used) tx.erase(unused_prefix(r.role(), r.gun(), r.algorithm()) + r.key_id());
          return ok_status();
        },
        /*sync=*/first_use);
    if (!s) log->warn("key {}: cannot record last use: {}", entry.key_id, s.error().message);
  }

  // ---- open ---------------------------------------------------------------------------

  // Reads the database's metadata, or creates it in a new database. Under the writers' lock,
  // so that two processes creating one shared database agree on one salt.
  Status load_or_create_meta() {
    return records->write(
        [&](RecordStore::Txn& tx) -> Status {
          VOUCH_ASSIGN_OR_RETURN(auto raw, tx.get(kMetaKey));
          if (raw) return parse_meta(*raw);
          // A new database: refuse if it already holds records (a lost "m" must not be
          // recreated with a new salt, which would make every key undecryptable).
          VOUCH_ASSIGN_OR_RETURN(auto any, tx.scan("", "", 1));
          if (!any.empty()) {
            return make_error(Reason::kMalformed, "key database has records but no metadata");
          }
          VOUCH_RETURN_IF_ERROR(new_meta());
          tx.put(kMetaKey, meta.SerializeAsString());
          return ok_status();
        },
        /*sync=*/true);
  }

  Status parse_meta(const std::string& raw_meta) {
    if (!meta.ParseFromString(raw_meta)) {
      return make_error(Reason::kMalformed, "key database metadata is unreadable");
    }
    if (meta.format_version() != kFormatVersion) {
      return make_error(Reason::kUnsupportedAlgorithm, "key database format version " +
                                                           std::to_string(meta.format_version()) +
                                                           " is not supported");
    }
    const keys::KdfLimits limits;
    if (meta.kdf_salt().size() != kSaltSize || meta.argon2_iterations() < 1 ||
        meta.argon2_parallelism() < 1 ||
        meta.argon2_memory_kib() < 8 * meta.argon2_parallelism() ||
        meta.argon2_memory_kib() > limits.max_argon2_memory_kib ||
        meta.argon2_iterations() > limits.max_argon2_iterations ||
        meta.argon2_parallelism() > limits.max_argon2_parallelism) {
      return make_error(Reason::kMalformed, "key database KDF parameters are out of range");
    }
    return ok_status();
  }

  Status new_meta() {
    const keys::Argon2Params& p = options.kdf;
    const keys::KdfLimits limits;
    if (p.iterations < 1 || p.parallelism < 1 || p.memory_kib < 8 * p.parallelism ||
        p.memory_kib > limits.max_argon2_memory_kib ||
        p.iterations > limits.max_argon2_iterations ||
        p.parallelism > limits.max_argon2_parallelism) {
      return make_error(Reason::kMalformed, "Argon2 parameters out of range");
    }
    Bytes salt(kSaltSize);
    VOUCH_RETURN_IF_ERROR(keys::random_bytes(salt));
    meta.set_format_version(kFormatVersion);
    meta.set_kdf_salt(std::string(salt.begin(), salt.end()));
    meta.set_argon2_memory_kib(p.memory_kib);
    meta.set_argon2_iterations(p.iterations);
    meta.set_argon2_parallelism(p.parallelism);
    return ok_status();
  }

  // Aliases in use by keys -> number of keys; also checks that every record parses.
  Result<std::map<std::string, std::uint64_t>> aliases_in_use() {
    std::map<std::string, std::uint64_t> out;
    VOUCH_ASSIGN_OR_RETURN(auto recs, records->scan(kKeyPrefix, "", 0));
    for (const auto& [key, value] : recs) {
      pb::KeyRecord r;
      if (!r.ParseFromString(value)) {
        return make_error(Reason::kMalformed, "unreadable key record " + key);
      }
      ++out[r.alias()];
    }
    return out;
  }

  Result<std::vector<std::string>> aliases_with_verifier() {
    std::vector<std::string> out;
    VOUCH_ASSIGN_OR_RETURN(auto recs, records->scan(kAliasPrefix, "", 0));
    for (const auto& rec : recs) out.push_back(rec.first.substr(kAliasPrefix.size()));
    return out;
  }

  Status unlock_all() {
    VOUCH_ASSIGN_OR_RETURN(auto in_use, aliases_in_use());
    VOUCH_ASSIGN_OR_RETURN(auto with_verifier, aliases_with_verifier());
    std::map<std::string, bool, std::less<>> wanted;  // alias -> required
    wanted[default_alias] = true;
    for (const auto& [alias, n] : in_use) {
      if (!is_valid_alias(alias)) {
        return make_error(Reason::kMalformed, "key records name an invalid alias");
      }
      wanted[alias] = true;
    }
    for (const auto& alias : with_verifier) wanted.emplace(alias, false);
    for (const auto& [alias, required] : wanted) {
      auto kek = unlock_alias(alias, required);
      if (!kek) {
        if (!required && kek.error().reason == Reason::kNoPassphrase) continue;
        if (required && kek.error().reason == Reason::kNoPassphrase) {
          auto it = in_use.find(alias);
          const std::uint64_t n = it == in_use.end() ? 0 : it->second;
          Error e = std::move(kek).error();
          e.message += n > 0 ? " (" + std::to_string(n) + " keys are encrypted under it)"
                             : " (it is the default alias for new keys)";
          return e;
        }
        return std::move(kek).error();
      }
      keks.emplace(alias, std::move(kek).value());
    }
    return ok_status();
  }
};

KeyStore::KeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeyStore::~KeyStore() = default;

Result<std::unique_ptr<KeyStore>> KeyStore::open(KeyStoreOptions options) {
  if (options.db_path.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "no key database path");
  }
  if (!is_valid_alias(options.default_alias) || options.rsa_bits < keys::kMinRsaBits) {
    return open(std::move(options), nullptr);  // the argument errors, before opening
  }
  VOUCH_ASSIGN_OR_RETURN(auto records,
                         open_rocksdb_records(options.db_path, options.create_if_missing));
  return open(std::move(options), std::move(records));
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(KeyStoreOptions options,
                                                 std::unique_ptr<RecordStore> records) {
  if (!is_valid_alias(options.default_alias)) {
    return make_error(
        Code::kInvalidArgument, Reason::kMalformed,
        "default alias '" + options.default_alias + "' is not 1-50 characters of [A-Za-z0-9_]");
  }
  if (options.rsa_bits < keys::kMinRsaBits) {
    return make_error(Code::kInvalidArgument, Reason::kKeyTooSmall, "rsa_bits below 2048");
  }
  if (!records) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "no key database");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->default_alias = impl->options.default_alias;
  impl->records = std::move(records);
  VOUCH_RETURN_IF_ERROR(impl->load_or_create_meta());
  VOUCH_RETURN_IF_ERROR(impl->unlock_all());
  return std::unique_ptr<KeyStore>(new KeyStore(std::move(impl)));
}

Result<keys::PublicKey> KeyStore::create_key(std::string_view role, std::string_view gun,
                                             keys::KeyType type) {
  if (type != keys::KeyType::kEcdsa && type != keys::KeyType::kEd25519 &&
      type != keys::KeyType::kRsa) {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "cannot create keys of type " + std::string(keys::to_string(type)));
  }
  VOUCH_RETURN_IF_ERROR(check_name("role", role));
  VOUCH_RETURN_IF_ERROR(check_name("gun", gun));
  Impl& m = *impl_;
  const std::string alg(keys::to_string(type));
  const std::string prefix = unused_prefix(role, gun, alg);

  // An unused key for exactly this (role, gun, algorithm)? The index entries hold no value;
  // the record decides (an entry may be stale).
  auto find_unused = [&](RecordStore::Txn* tx) -> Result<std::optional<keys::PublicKey>> {
    VOUCH_ASSIGN_OR_RETURN(auto entries,
                           tx != nullptr ? tx->scan(prefix, "", 0) : m.records->scan(prefix, "", 0));
    for (const auto& entry : entries) {
      const std::string key_id = entry.first.substr(prefix.size());
      VOUCH_ASSIGN_OR_RETURN(auto rec,
                             tx != nullptr ? Impl::get_record(*tx, key_id) : m.get_record(key_id));
      if (!rec || rec->last_used_unix_us() != 0) continue;  // stale index entry
      VOUCH_ASSIGN_OR_RETURN(keys::PublicKey pub,
                             keys::PublicKey::from_tuf(type, as_bytes(rec->public_key())));
      return std::optional<keys::PublicKey>(std::move(pub));
    }
    return std::optional<keys::PublicKey>();
  };

  {
    VOUCH_ASSIGN_OR_RETURN(auto existing, find_unused(nullptr));
    if (existing) return std::move(*existing);
  }

  // Generate and seal outside the writer lock (RSA generation takes seconds).
  VOUCH_ASSIGN_OR_RETURN(keys::PrivateKey key,
                         keys::PrivateKey::generate(type, m.options.rsa_bits));
  std::string alias;
  keys::SecretBytes kek;
  {
    std::shared_lock lock(m.keks_mu);
    alias = m.default_alias;
    auto it = m.keks.find(alias);
    if (it == m.keks.end()) {
      return make_error(Reason::kNoPassphrase, "default alias '" + alias + "' is not unlocked");
    }
    kek = it->second.copy();
  }
  const keys::PublicKey pub = key.public_key();
  pb::KeyRecord r;
  r.set_key_id(pub.id());
  r.set_algorithm(alg);
  r.set_role(std::string(role));
  r.set_gun(std::string(gun));
  r.set_public_key(std::string(pub.public_bytes().begin(), pub.public_bytes().end()));
  r.set_created_unix_us(to_us(m.clock->now()));
  r.set_last_used_unix_us(0);
  VOUCH_RETURN_IF_ERROR(m.seal_into(r, key, alias, kek));

  // Before the write: a delete_key of the new ID after it must not be undone by the insert.
  const std::uint64_t generation = m.cache.generation(r.key_id());
  // Under the writers' lock, look again: another caller (or another process on a shared
  // database) may have created one meanwhile; then its key is the answer, not ours.
  std::optional<keys::PublicKey> existing;
  const Status written = m.records->write(
      [&](RecordStore::Txn& tx) -> Status {
        VOUCH_ASSIGN_OR_RETURN(existing, find_unused(&tx));
        if (existing) return ok_status();
        tx.put(key_key(r.key_id()), r.SerializeAsString());
        tx.put(prefix + r.key_id(), "");
        return ok_status();
      },
      /*sync=*/true);
  VOUCH_RETURN_IF_ERROR(written);
  if (existing) return std::move(*existing);
  m.cache.insert(std::make_shared<CachedKey>(r.key_id(), std::move(key), 0), generation);
  m.log->info("created key key_id={} algorithm={} alias={}", r.key_id(), alg, alias);
  return pub;
}

Status KeyStore::delete_key(std::string_view key_id) {
  if (!is_key_id(key_id)) return ok_status();
  Impl& m = *impl_;
  const Status written = m.records->write(
      [&](RecordStore::Txn& tx) -> Status {
        VOUCH_ASSIGN_OR_RETURN(auto rec, Impl::get_record(tx, key_id));
        tx.erase(key_key(key_id));
        if (rec) {
          tx.erase(unused_prefix(rec->role(), rec->gun(), rec->algorithm()) +
                   std::string(key_id));
        }
        return ok_status();
      },
      /*sync=*/true);
  VOUCH_RETURN_IF_ERROR(written);
  m.cache.erase(key_id);
  return ok_status();
}

Result<KeyInfo> KeyStore::key_info(std::string_view key_id) {
  if (!is_key_id(key_id)) return make_error(Reason::kUnknownKey, "no such key");
  VOUCH_ASSIGN_OR_RETURN(auto rec, impl_->get_record(key_id));
  if (!rec) return make_error(Reason::kUnknownKey, "no key " + std::string(key_id));
  const pb::KeyRecord& r = *rec;
  VOUCH_ASSIGN_OR_RETURN(keys::KeyType type, record_type(r));
  auto pub = keys::PublicKey::from_tuf(type, as_bytes(r.public_key()));
  if (!pub || pub->id() != r.key_id()) {
    return make_error(Code::kDataLoss, Reason::kMalformed,
                      "key record " + r.key_id() + ": public key does not match its ID");
  }
  KeyInfo info{r.key_id(),
               type,
               r.role(),
               r.gun(),
               r.alias(),
               std::move(pub).value(),
               from_us(r.created_unix_us()),
               std::nullopt};
  if (r.last_used_unix_us() != 0) info.last_used = from_us(r.last_used_unix_us());
  return info;
}

Result<keys::Signature> KeyStore::sign(std::string_view key_id, ByteSpan content) {
  Impl& m = *impl_;
  std::shared_ptr<CachedKey> entry = m.cache.get(key_id);
  if (entry && m.records->shared()) {
    // Another process may have deleted the key: the database, not this cache, decides.
    const std::uint64_t generation = m.cache.generation(key_id);
    VOUCH_ASSIGN_OR_RETURN(auto raw, m.records->get(key_key(key_id)));
    if (!raw) {
      if (m.cache.generation(key_id) == generation) m.cache.erase(key_id);
      return make_error(Reason::kUnknownKey, "no key " + std::string(key_id));
    }
  }
  if (!entry) {
    if (!is_key_id(key_id)) return make_error(Reason::kUnknownKey, "no such key");
    // Taken before the read, so that a delete_key racing this miss cannot put the deleted
    // key back into the cache (a sign that read the record before the deletion may still
    // sign once: it is ordered before it).
    const std::uint64_t generation = m.cache.generation(key_id);
    VOUCH_ASSIGN_OR_RETURN(auto rec, m.get_record(key_id));
    if (!rec) return make_error(Reason::kUnknownKey, "no key " + std::string(key_id));
    if (m.options.test_hook_after_read) m.options.test_hook_after_read(key_id);
    VOUCH_ASSIGN_OR_RETURN(keys::PrivateKey key, m.unseal(*rec));
    entry = m.cache.insert(
        std::make_shared<CachedKey>(std::string(key_id), std::move(key), rec->last_used_unix_us()),
        generation);
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes sig, entry->key.sign(content));
  m.mark_used(*entry, to_us(m.clock->now()));
  return keys::Signature{entry->key.method(), std::move(sig)};
}

Result<RotationResult> KeyStore::rotate_alias(std::string_view new_alias, bool make_default,
                                              std::size_t chunk_size) {
  if (!is_valid_alias(new_alias)) {
    return make_error(
        Code::kInvalidArgument, Reason::kMalformed,
        "alias '" + std::string(new_alias) + "' is not 1-50 characters of [A-Za-z0-9_]");
  }
  chunk_size = std::max<std::size_t>(chunk_size, 1);
  Impl& m = *impl_;
  std::lock_guard rotate_lock(m.rotate_mu);

  // Unlock the new alias (verifying or creating its verifier) unless it already is.
  keys::SecretBytes new_kek;
  if (auto k = m.kek_of(new_alias)) {
    new_kek = std::move(k).value();
  } else {
    std::lock_guard unlock_lock(m.unlock_mu);
    VOUCH_ASSIGN_OR_RETURN(new_kek, m.unlock_alias(new_alias, /*required=*/true));
    std::unique_lock lock(m.keks_mu);
    m.keks.insert_or_assign(std::string(new_alias), new_kek.copy());
  }
  if (make_default) {
    std::unique_lock lock(m.keks_mu);
    m.default_alias = std::string(new_alias);
  }

  RotationResult result;
  std::string cursor(kKeyPrefix);
  bool done = false;
  while (!done) {
    // One chunk: chunk_size records from the cursor, and the first key of the next chunk.
    std::uint64_t rotated = 0;
    std::string next;
    const Status written = m.records->write(
        [&](RecordStore::Txn& tx) -> Status {
          rotated = 0;
          next.clear();
          VOUCH_ASSIGN_OR_RETURN(auto recs, tx.scan(kKeyPrefix, cursor, chunk_size + 1));
          if (recs.size() > chunk_size) {
            next = recs.back().first;
            recs.pop_back();
          }
          for (const auto& [key, value] : recs) {
            pb::KeyRecord r;
            if (!r.ParseFromString(value)) {
              return make_error(Code::kDataLoss, Reason::kMalformed, "unreadable key record " + key);
            }
            if (r.alias() == new_alias) continue;
            VOUCH_ASSIGN_OR_RETURN(keys::PrivateKey key_material, m.unseal(r));
            VOUCH_RETURN_IF_ERROR(m.seal_into(r, key_material, new_alias, new_kek));
            tx.put(key, r.SerializeAsString());
            ++rotated;
          }
          return ok_status();
        },
        /*sync=*/true);
    VOUCH_RETURN_IF_ERROR(written);
    result.keys_rotated += rotated;
    done = next.empty();
    cursor = std::move(next);
  }
  VOUCH_ASSIGN_OR_RETURN(result.keys_total, key_count());
  m.log->info("rotated {} of {} keys to alias {}", result.keys_rotated, result.keys_total,
              new_alias);
  return result;
}

std::string KeyStore::default_alias() const {
  std::shared_lock lock(impl_->keks_mu);
  return impl_->default_alias;
}

Result<std::uint64_t> KeyStore::key_count() {
  VOUCH_ASSIGN_OR_RETURN(auto recs, impl_->records->scan(kKeyPrefix, "", 0));
  return static_cast<std::uint64_t>(recs.size());
}

CacheStats KeyStore::cache_stats() const { return impl_->cache.stats(); }

}  // namespace vouch::signer
