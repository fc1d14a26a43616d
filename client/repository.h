#pragma once

// One trusted collection (GUN) as the notary client manages it (notary:client/client.go,
// REFERENCE §3, DESIGN "Client"): create it (`init`), read it through the TUF update workflow
// (`list`, `lookup`, `verify`), apply the staged changelist and publish (`publish`), rotate
// keys (`key rotate`), delete it (`delete`).
//
// Trust: every read goes through tuf::refresh over a tuf::TrustedSet at one reference time,
// with the local metadata cache as trust anchor and rollback floor. The cache is only ever
// written with data that verified (or that this client signed itself).
//
// Signing: the roles a publish changes are signed with the private keys of the trust
// directory that their parent lists (root for root/targets/snapshot, the parent's delegation
// for a delegated role), through a keys::Signer that asks for passphrases only for keys it
// actually uses. The snapshot is signed here when the root's snapshot keys are held locally,
// else the server makes it (server-managed snapshot). The timestamp is always the server's.
//
// Publishing is optimistic: the files are built on the latest verified state and uploaded in
// one request; when the server answers that someone else published first (kConflict), the
// state is fetched again and the changes re-applied once more before giving up.
//
// Not thread-safe: one Repository per command.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/changelist.h"
#include "common/clock.h"
#include "common/result.h"
#include "keys/keystore.h"
#include "keys/passphrase.h"
#include "keys/public_key.h"
#include "keys/signer.h"
#include "tuf/metadata.h"
#include "tuf/metadata_source.h"
#include "tuf/trust_pinning.h"
#include "tuf/trusted_set.h"

namespace vouch::client {

// A file of one publish: the role and its exact bytes.
struct RolePart {
  std::string role;
  std::string bytes;
};

// What a Notary server offers for one GUN: the metadata (tuf::MetadataSource), publishing,
// and the server-held keys. NotaryRemote (client/remote.h) speaks HTTP; tests use an
// in-process server.
class Remote : public tuf::MetadataSource {
 public:
  // Uploads the files of one publish, atomically. kConflict when the server refuses because
  // the repository changed since the files were built (Notary's VERSION error: another
  // publisher went first); kUnavailable when it cannot be reached; other errors carry the
  // server's message.
  virtual Status publish(std::span<const RolePart> parts) = 0;
  // The public key the server holds for `role` ("timestamp", "snapshot"), creating it if the
  // server has none yet (GET <role>.key).
  virtual Result<keys::PublicKey> get_key(std::string_view role) = 0;
  // Makes the server create a new key for `role` and returns it (POST <role>.key).
  virtual Result<keys::PublicKey> rotate_key(std::string_view role) = 0;
  // Deletes the repository's trust data on the server (DELETE /v2/<gun>/_trust/tuf/).
  virtual Status delete_repository() = 0;
};

// Notary's default lifetimes (tuf/data/types.go DefaultExpires).
inline constexpr std::chrono::hours kRootLifetime{24 * 365 * 10};
inline constexpr std::chrono::hours kTargetsLifetime{24 * 365 * 3};
inline constexpr std::chrono::hours kSnapshotLifetimeClient{24 * 365 * 3};

struct RepositoryConfig {
  std::string gun;
  // Trust pinning for the first root and every root after it (tuf/trust_pinning.h).
  tuf::TrustPinning pinning;
  tuf::UpdateLimits limits;
  // Key type for keys this client generates: ecdsa (Notary's only choice), ed25519, rsa.
  keys::KeyType key_type = keys::KeyType::kEcdsa;
  const Clock* clock = &SystemClock::instance();
};

// A target as `list` and `lookup` show it.
struct TargetInfo {
  std::string name;
  tuf::FileMeta meta;
  std::string role;                      // the role that lists it
  std::vector<keys::PublicKey> signers;  // keys whose signatures verified that role
};

struct InitOptions {
  // Root keys to use, by canonical key ID, as found in the key store (`--rootkey` imports a
  // file first, then passes its ID). Empty: the first root key of the key store, as notary
  // does ("Root key found, using: ..."), or a new one.
  std::vector<std::string> root_key_ids;
  // Certificates for those keys (`--rootcert`), PEM; a key without one gets a new
  // self-signed certificate for the GUN valid for kRootLifetime, as notary makes.
  std::vector<std::string> root_certificates;
  // Let the server hold the snapshot key (`docker trust` does this; `notary init` does not).
  // Members who sign only into delegations can publish on their own only then: a publish
  // needs a new snapshot, and they hold no snapshot key. The `vouch` CLI sets this unless
  // `init --local-snapshot` asks for notary's behaviour.
  bool server_managed_snapshot = false;
};

struct InitResult {
  // The (first) root key's certificate as root.json lists it.
  std::optional<keys::PublicKey> root_key;
  bool generated_root_key = false;
  std::vector<std::string> roles_signed_locally;
};

struct PublishResult {
  bool initial = false;                // the repository did not exist on the server before
  std::size_t changes_applied = 0;     // staged changes applied and cleared
  std::vector<std::string> uploaded;   // roles uploaded, in upload order
  int attempts = 1;                    // 2 when a conflict made it start again
};

// Reports progress of long operations (publishing thousands of targets): a phase name and,
// where known, done/total.
using ProgressFn = std::function<void(std::string_view phase, std::size_t done, std::size_t total)>;

class Repository {
 public:
  // `trust_dir` holds keys (private/), the metadata cache and the changelist
  // (tuf/<gun>/metadata, tuf/<gun>/changelist). `remote` may be null for offline use (status,
  // reset, add, ... need no server). `store`, `signer` and `passphrases` are borrowed: the
  // signer must sign with the keys of `store` (keys::LocalSigner), and `passphrases` is what
  // the signer asks (used here directly to unlock a root key for its certificate).
  // Errors: an invalid GUN (kBadGun), the cache or changelist directory cannot be made (kIo).
  static Result<Repository> open(RepositoryConfig config, std::filesystem::path trust_dir,
                                 Remote* remote, const keys::TrustDirKeyStore& store,
                                 keys::Signer& signer, keys::PassphraseSource& passphrases);

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  ~Repository();

  const std::string& gun() const;
  FileChangelist& changelist();
  tuf::MetadataCache& cache();

  // `init`: creates root (v1, root keys as certificates with CN = GUN), targets (v1, a new
  // targets key) and, unless server-managed, snapshot (v1, a new snapshot key) signed with
  // local keys, using the server's timestamp key (and snapshot key if server-managed), and
  // writes them to the local cache; `publish` uploads them. Needs the server (for its keys).
  // kConflict if the server already has this repository (a new root would not be accepted).
  Result<InitResult> initialize(const InitOptions& options);

  // Runs the TUF update workflow against the server (tuf::refresh) with the local cache.
  // kNotFound (Code kNotFound) when the server has no such repository.
  Result<tuf::TrustedSet> update();

  // `publish`: applies the changelist to the latest verified state (or, for a repository
  // initialized locally and not yet on the server, to the cached state) and uploads the
  // result. On success the applied changes are removed from the changelist. With no staged
  // changes and nothing to initialize, uploads nothing.
  // When this trust directory holds no snapshot key and the server refuses the upload for
  // want of a snapshot (the owner keeps the snapshot key, as after `notary init`), the error
  // is Code kFailedPrecondition, Reason kThresholdNotMet, and says how the owner moves the
  // key to the server (`vouch key rotate <gun> snapshot -r`).
  Result<PublishResult> publish(const ProgressFn& progress = {});

  // Whether this trust directory holds the snapshot keys (up to the threshold) that the
  // cached root.json lists, i.e. the snapshot is signed here rather than by the server. Reads
  // the local cache only (no network; the cache is what the last update verified or what
  // `init` wrote). nullopt when no root of this GUN is cached or it does not parse.
  std::optional<bool> holds_snapshot_key();

  // `list`: every target, with the role that lists it, walking from each of `roles` (default
  // {"targets"}) down its delegations in Notary's order; a name listed by several roles is
  // shown once, from the first role that lists it. Sorted by name.
  Result<std::vector<TargetInfo>> list_targets(std::span<const std::string> roles = {});
  // `lookup`: the target as the first role in Notary's walk order lists it (or, with
  // `roles`, as docker does: the subtree of each role in turn). kNotFound if no role does.
  Result<TargetInfo> lookup(std::string_view name, std::span<const std::string> roles = {});

  // `key rotate <gun> <role>`: replaces the keys of a base role and publishes the new root
  // at once, as notary does.
  //   root:      new root key(s) (`key_ids`, else a new key), the new root signed by the old
  //              root keys AND the new ones so every client can follow;
  //   targets:   a new local key (or `key_ids`); targets re-signed with it;
  //   snapshot:  a new local key, or with `server_managed` a new key on the server;
  //   timestamp: `server_managed` required: a new key on the server.
  // Returns the new key IDs (as root.json lists them).
  Result<std::vector<std::string>> rotate_key(std::string_view role, bool server_managed,
                                              std::span<const std::string> key_ids = {});

  // `delete`: removes the local trust data of the GUN (metadata cache and changelist; keys
  // stay), and with `remote` the server's too (first, so that a failure leaves the local
  // copy).
  Status delete_trust_data(bool remote);

  struct Impl;

 private:
  explicit Repository(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::client
