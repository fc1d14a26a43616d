// Tests for keys/key_file, keys/passphrase, keys/keystore and keys/local_signer.
//
// Third-party vectors: tests/data/notary-keys/ (made by the real notary CLI and Notary's own
// library, see make.sh there) and an Argon2id vector from the reference implementation's
// `argon2` CLI. Interop in the other direction is checked with OpenSSL's PKCS#8 decryption
// (in process, and `openssl pkcs8` if installed) and with the notary CLI if installed.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "keys/key_file.h"
#include "keys/keystore.h"
#include "keys/local_signer.h"
#include "keys/private_file.h"
#include "keys/passphrase.h"
#include "keys/private_key.h"
#include "keys/public_key.h"
#include "keys/root_certificate.h"

namespace fs = std::filesystem;
using namespace vouch;
using namespace vouch::keys;

namespace {

constexpr std::string_view kNotaryVectorPassphrase = "vouch-notary-keys-test";
constexpr std::string_view kVectorGun = "example.com/vouch/app";

SecretString pass(std::string_view s) { return SecretString(s); }

// Cheap costs so that tests stay fast; the default costs get one test of their own.
WriteOptions fast_vouch() {
  WriteOptions o;
  o.format = KeyFileFormat::kVouch;
  o.argon2 = {1024, 1, 1};
  return o;
}
WriteOptions fast_notary() {
  WriteOptions o;
  o.format = KeyFileFormat::kNotary;
  o.pbkdf2_iterations = 2048;
  return o;
}
KeyStoreOptions fast_store(KeyFileFormat format = KeyFileFormat::kVouch) {
  KeyStoreOptions o;
  o.write = format == KeyFileFormat::kVouch ? fast_vouch() : fast_notary();
  return o;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vouch-keystore-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path_ = p;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, std::string_view text, fs::perms mode = fs::perms(0600)) {
  fs::create_directories(p.parent_path());
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::permissions(p, mode);
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode) & 07777U;
}

std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  const auto pos = s.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, "missing: " << from);
  s.replace(pos, from.size(), to);
  return s;
}

// The first base64 body line of a PEM text (the line after the blank separator).
std::size_t first_body_offset(const std::string& pem) {
  const auto pos = pem.find("\n\n");
  REQUIRE(pos != std::string::npos);
  return pos + 2;
}

PrivateKey gen(KeyType type) {
  auto k = type == KeyType::kRsa ? PrivateKey::generate(type, 2048) : PrivateKey::generate(type);
  REQUIRE_MESSAGE(k.ok(), (k.ok() ? "" : k.error().message));
  return std::move(k).value();
}

template <typename T>
Reason reason_of(const Result<T>& r) {
  return r.ok() ? Reason::kNone : r.error().reason;
}

bool program_exists(const char* path) { return ::access(path, X_OK) == 0; }

// A source that answers from a script and counts its calls.
class ScriptedSource final : public PassphraseSource {
 public:
  explicit ScriptedSource(std::vector<std::string> answers) : answers_(std::move(answers)) {}
  Result<SecretString> get(const PassphraseRequest& request) override {
    requests.push_back(request);
    if (calls_ >= answers_.size()) return make_error(Reason::kNoPassphrase, "script exhausted");
    return SecretString(answers_[calls_++]);
  }
  std::vector<PassphraseRequest> requests;

 private:
  std::vector<std::string> answers_;
  std::size_t calls_ = 0;
};

// ---- Minimal DER writer, to forge PBES2 structures the writer would never produce ----------

Bytes der_len(std::size_t n) {
  if (n < 0x80) return {static_cast<std::uint8_t>(n)};
  Bytes b;
  for (std::size_t v = n; v > 0; v >>= 8) b.insert(b.begin(), static_cast<std::uint8_t>(v & 0xff));
  b.insert(b.begin(), static_cast<std::uint8_t>(0x80 | b.size()));
  return b;
}
Bytes tlv(std::uint8_t tag, const Bytes& content) {
  Bytes out{tag};
  const Bytes len = der_len(content.size());
  out.insert(out.end(), len.begin(), len.end());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}
Bytes seq(std::initializer_list<Bytes> parts) {
  Bytes c;
  for (const auto& p : parts) c.insert(c.end(), p.begin(), p.end());
  return tlv(0x30, c);
}
Bytes der_uint(std::uint64_t v) {
  Bytes b;
  do {
    b.insert(b.begin(), static_cast<std::uint8_t>(v & 0xff));
    v >>= 8;
  } while (v > 0);
  if ((b.front() & 0x80) != 0) b.insert(b.begin(), 0);
  return tlv(0x02, b);
}
Bytes octets(const Bytes& b) { return tlv(0x04, b); }
const Bytes kOidPbes2 = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d};
const Bytes kOidPbkdf2 = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c};
const Bytes kOidAes256Cbc = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};
const Bytes kOidAes128Cbc = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02};
const Bytes kOidHmacSha1 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07};
const Bytes kOidHmacSha256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09};
const Bytes kDerNull = {0x05, 0x00};

struct ForgedPbes2 {
  std::uint64_t iterations = 2048;
  std::optional<Bytes> prf;  // AlgorithmIdentifier DER, or none
  Bytes cipher_oid = kOidAes256Cbc;
};

// A Notary-style file for `key`, encrypted for real (PBKDF2-HMAC-SHA1, AES-256-CBC) when the
// iteration count is reasonable, else with garbage ciphertext (the reader must refuse first).
std::string forge_notary_file(const PrivateKey& key, std::string_view passphrase,
                              const ForgedPbes2& f) {
  Bytes salt(8, 0x11);
  Bytes iv(16, 0x22);
  Bytes ct(48, 0x33);
  if (f.iterations >= 1 && f.iterations <= 100000) {
    const SecretBytes plain = key.to_pkcs8_der(Pkcs8Flavor::kNotary);
    unsigned char kek[32];
    REQUIRE(PKCS5_PBKDF2_HMAC(passphrase.data(), static_cast<int>(passphrase.size()),
                              salt.data(), static_cast<int>(salt.size()),
                              static_cast<int>(f.iterations), EVP_sha1(), 32, kek) == 1);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ct.assign(plain.size() + 16, 0);
    int n1 = 0;
    int n2 = 0;
    REQUIRE(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, kek, iv.data()) == 1);
    REQUIRE(EVP_EncryptUpdate(ctx, ct.data(), &n1, plain.data(), static_cast<int>(plain.size())) ==
            1);
    REQUIRE(EVP_EncryptFinal_ex(ctx, ct.data() + n1, &n2) == 1);
    EVP_CIPHER_CTX_free(ctx);
    ct.resize(static_cast<std::size_t>(n1 + n2));
  }
  Bytes kdf_params = f.prf ? seq({octets(salt), der_uint(f.iterations), *f.prf})
                           : seq({octets(salt), der_uint(f.iterations)});
  const Bytes der = seq({seq({kOidPbes2, seq({seq({kOidPbkdf2, kdf_params}),
                                              seq({f.cipher_oid, octets(iv)})})}),
                         octets(ct)});
  std::string pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: root\n\n";
  const std::string b64 = base64_encode(der);
  for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  pem += "-----END ENCRYPTED PRIVATE KEY-----\n";
  return pem;
}

// Strips RFC 1421 header lines so that OpenSSL's PEM reader accepts the block.
std::string strip_headers(const std::string& pem) {
  std::istringstream in(pem);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (line.find(':') != std::string::npos || line.empty()) continue;
    out += line + "\n";
  }
  return out;
}

// ---- Notary vectors -------------------------------------------------------------------------

struct Vector {
  std::string label;
  std::string key_id;
  fs::path path;
};

std::vector<Vector> notary_vectors() {
  std::vector<Vector> out;
  for (const auto& e : fs::directory_iterator(fs::path(VOUCH_TEST_DATA) / "notary-keys")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".key") continue;
    const auto dot = name.find('.');
    REQUIRE(dot != std::string::npos);
    out.push_back({name.substr(0, dot), name.substr(dot + 1, 64), e.path()});
  }
  std::sort(out.begin(), out.end(), [](const Vector& a, const Vector& b) { return a.label < b.label; });
  return out;
}

struct Expected {
  std::string role;
  std::string gun;
  KeyFileFormat format;
  KeyType type;
};

const std::map<std::string, Expected>& expected_vectors() {
  static const std::map<std::string, Expected> m = {
      {"notary-cli-root", {"root", "", KeyFileFormat::kNotary, KeyType::kEcdsa}},
      {"notary-cli-targets_releases",
       {"targets/releases", "", KeyFileFormat::kNotary, KeyType::kEcdsa}},
      {"notary-cli-targets",
       {"targets", std::string(kVectorGun), KeyFileFormat::kNotary, KeyType::kEcdsa}},
      {"notary-cli-snapshot",
       {"snapshot", std::string(kVectorGun), KeyFileFormat::kNotary, KeyType::kRsa}},
      {"notary-lib-ed25519-snapshot",
       {"snapshot", std::string(kVectorGun), KeyFileFormat::kNotary, KeyType::kEd25519}},
      {"legacy-root", {"root", "", KeyFileFormat::kLegacyPem, KeyType::kEcdsa}},
  };
  return m;
}

// ---- Pseudo-terminal helpers ----------------------------------------------------------------

struct Pty {
  int master = -1;
  int slave = -1;
  Pty() { REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0); }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
  ~Pty() {
    if (master >= 0) ::close(master);
    if (slave >= 0) ::close(slave);
  }
  bool echo_on() const {
    struct termios t {};
    REQUIRE(::tcgetattr(slave, &t) == 0);
    return (t.c_lflag & ECHO) != 0;
  }
};

// Reads from `fd` into `acc` until `needle` appears after `from` (or 5 s pass). Returns the
// position after the needle, or npos on timeout.
std::size_t wait_for(int fd, std::string& acc, std::string_view needle, std::size_t from = 0) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    if (auto pos = acc.find(needle, from); pos != std::string::npos) return pos + needle.size();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::string::npos;
    struct pollfd p {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return std::string::npos;
    acc.append(buf, static_cast<std::size_t>(n));
  }
}

void type_line(int fd, std::string_view s) {
  std::string line(s);
  line += '\n';
  REQUIRE(::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
}

const std::string kId = "abc1234def5678abc1234def5678abc1234def5678abc1234def5678abc12345";

}  // namespace

// =============================================================================================
// key_file: building blocks
// =============================================================================================

TEST_CASE("argon2id_derive matches the reference implementation") {
  // echo -n "correct horse battery" | argon2 vouchtestsalt16b -id -t 2 -m 10 -p 1 -l 32 -r
  // (Debian package argon2 0~20171227, the reference implementation; -m 10 = 2^10 KiB)
  auto a = argon2id_derive(pass("correct horse battery"), as_bytes("vouchtestsalt16b"),
                           {1024, 2, 1}, 32);
  REQUIRE(a.ok());
  CHECK(hex_encode(a->span()) ==
        "0bed9876664ab53b38428142bb944c61571381e78b3df5c37aea5fa4ef923e8b");
  // ... -t 3 -m 11 -p 2: pins the order of (m, t, p) and parallelism.
  auto b = argon2id_derive(pass("correct horse battery"), as_bytes("vouchtestsalt16b"),
                           {2048, 3, 2}, 32);
  REQUIRE(b.ok());
  CHECK(hex_encode(b->span()) ==
        "ef3488a54136ed9b1aa99cf4d049d95db653f15127ac45947a065f391e1e3018");
  CHECK(reason_of(argon2id_derive(pass("x"), as_bytes("saltsalt"), {8, 0, 1}, 32)) ==
        Reason::kMalformed);
  CHECK(reason_of(argon2id_derive(pass("x"), as_bytes("saltsalt"), {8, 1, 2}, 32)) ==
        Reason::kMalformed);
}

TEST_CASE("parse_public_key_pem: public keys with or without headers, certificates, and others") {
  auto priv = PrivateKey::generate(KeyType::kEcdsa);
  REQUIRE(priv.ok());
  const PublicKey pub = priv->public_key();
  const std::string b64 = base64_encode(pub.spki_der());
  const std::string bare = "-----BEGIN PUBLIC KEY-----\n" + b64 + "\n-----END PUBLIC KEY-----\n";
  // As notary and docker write NAME.pub (blank line after the header), and without the blank
  // line.
  const std::string headed =
      "-----BEGIN PUBLIC KEY-----\nrole: alice\n\n" + b64 + "\n-----END PUBLIC KEY-----\n";
  const std::string tight =
      "-----BEGIN PUBLIC KEY-----\nrole: alice\n" + b64 + "\n-----END PUBLIC KEY-----\n";
  for (const std::string& text : {bare, headed, tight}) {
    auto key = parse_public_key_pem(text);
    REQUIRE_MESSAGE(key.ok(), key.error().message);
    CHECK(key->id() == pub.id());
  }
  const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
  auto cert = make_root_certificate(*priv, "example.com/app", now, now + std::chrono::hours(24));
  REQUIRE(cert.ok());
  auto from_cert = parse_public_key_pem(cert->pem());
  REQUIRE(from_cert.ok());
  CHECK(from_cert->certificate() != nullptr);
  CHECK(from_cert->canonical_id() == pub.id());

  auto wrong = parse_public_key_pem("-----BEGIN EC PRIVATE KEY-----\n" + b64 +
                                    "\n-----END EC PRIVATE KEY-----\n");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().reason == Reason::kMalformed);
  CHECK_FALSE(parse_public_key_pem("not pem").ok());
}

TEST_CASE("parse_pem_block: headers, line endings, limits") {
  const std::string body = base64_encode(as_bytes("hello world"));
  SUBCASE("headers in order, CRLF, leading text") {
    auto b = parse_pem_block("Bag Attributes\r\n-----BEGIN ENCRYPTED PRIVATE KEY-----\r\n"
                             "role: root\r\ngun:  example.com/x \r\n\r\n" +
                             body + "\r\n-----END ENCRYPTED PRIVATE KEY-----\r\n\r\n");
    REQUIRE(b.ok());
    CHECK(b->type == "ENCRYPTED PRIVATE KEY");
    REQUIRE(b->headers.size() == 2);
    CHECK(pem_header(*b, "role") == "root");
    CHECK(pem_header(*b, "gun") == "example.com/x");
    CHECK(pem_header(*b, "path").empty());
    CHECK(as_string_view(b->body.span()) == "hello world");
  }
  SUBCASE("no headers, no blank line") {
    auto b = parse_pem_block("-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----");
    REQUIRE(b.ok());
    CHECK(b->headers.empty());
  }
  SUBCASE("errors") {
    CHECK(reason_of(parse_pem_block("")) == Reason::kMalformed);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\n" + body + "\n")) ==
          Reason::kMalformed);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\n" + body +
                                    "\n-----END EC PRIVATE KEY-----\n")) == Reason::kMalformed);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\nrole: a\nrole: b\n\n" + body +
                                    "\n-----END PRIVATE KEY-----\n")) == Reason::kMalformed);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\n" + body +
                                    "\n-----END PRIVATE KEY-----\nextra")) ==
          Reason::kTrailingData);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\n" + body +
                                    "!\n-----END PRIVATE KEY-----\n")) == Reason::kMalformed);
    CHECK(reason_of(parse_pem_block(std::string(kMaxKeyFileSize + 1, 'A'))) ==
          Reason::kTooLarge);
    CHECK(reason_of(parse_pem_block("-----BEGIN PRIVATE KEY-----\nrole: " +
                                    std::string(300, 'r') + "\n\n" + body +
                                    "\n-----END PRIVATE KEY-----\n")) == Reason::kTooLarge);
  }
}

// =============================================================================================
// key_file: vouch format
// =============================================================================================

TEST_CASE("vouch format: round trip for every key type") {
  for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(to_string(type));
    PrivateKey key = gen(type);
    auto pem = encrypt_key_file(key, "targets", "example.com/app", pass("s3cret-passphrase"),
                                fast_vouch());
    REQUIRE(pem.ok());
    CHECK(pem->starts_with("-----BEGIN VOUCH ENCRYPTED PRIVATE KEY-----\nversion: 1\nrole: "
                           "targets\ngun: example.com/app\nkdf: argon2id\nkdf-memory-kib: 1024\n"
                           "kdf-iterations: 1\nkdf-parallelism: 1\nsalt: "));
    CHECK(pem->ends_with("-----END VOUCH ENCRYPTED PRIVATE KEY-----\n"));

    auto info = inspect_key_file(*pem);
    REQUIRE(info.ok());
    CHECK(info->format == KeyFileFormat::kVouch);
    CHECK(info->encrypted);
    CHECK(info->role == "targets");
    CHECK(info->gun == "example.com/app");

    auto d = decrypt_key_file(*pem, pass("s3cret-passphrase"));
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    CHECK(d->key.public_key().id() == key.public_key().id());
    CHECK(d->info.role == "targets");
    CHECK(d->info.gun == "example.com/app");

    CHECK(reason_of(decrypt_key_file(*pem, pass("wrong-passphrase"))) == Reason::kBadPassphrase);
    CHECK(reason_of(decrypt_key_file(*pem, pass(""))) == Reason::kBadPassphrase);
  }
}

TEST_CASE("vouch format: no gun header for a root key; salt and nonce are fresh") {
  PrivateKey key = gen(KeyType::kEcdsa);
  auto a = encrypt_key_file(key, "root", "", pass("passphrase-1"), fast_vouch());
  auto b = encrypt_key_file(key, "root", "", pass("passphrase-1"), fast_vouch());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->find("gun:") == std::string::npos);
  CHECK(*a != *b);
  auto d = decrypt_key_file(*a, pass("passphrase-1"));
  REQUIRE(d.ok());
  CHECK(d->info.gun.empty());
}

TEST_CASE("vouch format: every header and byte is authenticated") {
  PrivateKey key = gen(KeyType::kEcdsa);
  auto made = encrypt_key_file(key, "targets", "example.com/app", pass("passphrase-1"),
                               fast_vouch());
  REQUIRE(made.ok());
  const std::string pem = *made;
  REQUIRE(decrypt_key_file(pem, pass("passphrase-1")).ok());
  auto bad = [&](const std::string& edited) {
    return reason_of(decrypt_key_file(edited, pass("passphrase-1")));
  };

  SUBCASE("edited role or gun") {
    CHECK(bad(replace_once(pem, "role: targets", "role: snapshot")) == Reason::kBadPassphrase);
    CHECK(bad(replace_once(pem, "gun: example.com/app", "gun: example.com/evil")) ==
          Reason::kBadPassphrase);
    CHECK(bad(replace_once(pem, "gun: example.com/app\n", "")) == Reason::kBadPassphrase);
  }
  SUBCASE("edited KDF parameters (within limits)") {
    CHECK(bad(replace_once(pem, "kdf-iterations: 1\n", "kdf-iterations: 2\n")) ==
          Reason::kBadPassphrase);
    CHECK(bad(replace_once(pem, "kdf-memory-kib: 1024", "kdf-memory-kib: 2048")) ==
          Reason::kBadPassphrase);
  }
  SUBCASE("edited salt, nonce or ciphertext") {
    for (std::string_view h : {"salt: ", "nonce: "}) {
      std::string e = pem;
      const auto pos = e.find(h) + h.size() + 2;
      e[pos] = e[pos] == 'A' ? 'B' : 'A';
      CHECK(bad(e) == Reason::kBadPassphrase);
    }
    std::string e = pem;
    const auto pos = first_body_offset(e) + 10;
    e[pos] = e[pos] == 'A' ? 'B' : 'A';
    CHECK(bad(e) == Reason::kBadPassphrase);
  }
  SUBCASE("structural edits are malformed, before any derivation") {
    CHECK(bad(replace_once(pem, "cipher: aes-256-gcm\n", "")) == Reason::kMalformed);
    CHECK(bad(replace_once(pem, "role: targets\n", "role: targets\nextra: 1\n")) ==
          Reason::kMalformed);
    CHECK(bad(replace_once(pem, "role: targets\n", "role: targets\nrole: root\n")) ==
          Reason::kMalformed);
    CHECK(bad(replace_once(pem, "kdf-iterations: 1\n", "kdf-iterations: 01\n")) ==
          Reason::kMalformed);
    CHECK(bad(replace_once(pem, "kdf-iterations: 1\n", "kdf-iterations: 0\n")) ==
          Reason::kMalformed);
    CHECK(bad(replace_once(pem, "kdf-parallelism: 1\n", "kdf-parallelism: 1000\n")) ==
          Reason::kTooLarge);
    CHECK(bad(replace_once(pem, "version: 1", "version: 2")) == Reason::kUnsupportedAlgorithm);
    CHECK(bad(replace_once(pem, "kdf: argon2id", "kdf: scrypt")) ==
          Reason::kUnsupportedAlgorithm);
  }
}

TEST_CASE("vouch format: cost caps are enforced before deriving") {
  PrivateKey key = gen(KeyType::kEcdsa);
  auto made = encrypt_key_file(key, "root", "", pass("passphrase-1"), fast_vouch());
  REQUIRE(made.ok());
  const auto start = std::chrono::steady_clock::now();
  // 4 GiB of memory, a million passes, 2^64 and beyond: all refused without deriving.
  CHECK(reason_of(decrypt_key_file(replace_once(*made, "kdf-memory-kib: 1024",
                                                "kdf-memory-kib: 4194304"),
                                   pass("passphrase-1"))) == Reason::kTooLarge);
  CHECK(reason_of(decrypt_key_file(replace_once(*made, "kdf-iterations: 1\n",
                                                "kdf-iterations: 1000000\n"),
                                   pass("passphrase-1"))) == Reason::kTooLarge);
  CHECK(reason_of(decrypt_key_file(replace_once(*made, "kdf-memory-kib: 1024",
                                                "kdf-memory-kib: 4294968320"),
                                   pass("passphrase-1"))) == Reason::kTooLarge);
  CHECK(reason_of(decrypt_key_file(replace_once(*made, "kdf-memory-kib: 1024",
                                                "kdf-memory-kib: 99999999999999999999999"),
                                   pass("passphrase-1"))) == Reason::kTooLarge);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));

  // Caller-chosen limits apply too.
  KdfLimits tight;
  tight.max_argon2_memory_kib = 512;
  CHECK(reason_of(decrypt_key_file(*made, pass("passphrase-1"), tight)) == Reason::kTooLarge);

  // The writer refuses what the reader would refuse.
  WriteOptions too_big = fast_vouch();
  too_big.argon2.memory_kib = 4u * 1024u * 1024u;
  CHECK(reason_of(encrypt_key_file(key, "root", "", pass("passphrase-1"), too_big)) ==
        Reason::kTooLarge);
  WriteOptions too_small = fast_vouch();
  too_small.argon2.iterations = 0;
  CHECK(reason_of(encrypt_key_file(key, "root", "", pass("passphrase-1"), too_small)) ==
        Reason::kMalformed);
}

// A vouch file written at the former default cost (Argon2id m=64 MiB, t=3, p=1), kept to
// pin the format: every later version must still read it. Checked independently when it was
// made: the reference `argon2` CLI derived the key from the salt header, and Python's
// cryptography (AES-GCM, AAD built from the spec in key_file.h) decrypted the body to a
// P-256 PKCS#8 key.
constexpr std::string_view kPinnedVouchFile =
    "-----BEGIN VOUCH ENCRYPTED PRIVATE KEY-----\n"
    "version: 1\n"
    "role: targets\n"
    "gun: example.com/vouch/app\n"
    "kdf: argon2id\n"
    "kdf-memory-kib: 65536\n"
    "kdf-iterations: 3\n"
    "kdf-parallelism: 1\n"
    "salt: 0qTkW9wR6wi8OxNfMIKB+Q==\n"
    "cipher: aes-256-gcm\n"
    "nonce: T46tAuz05cSpCjZ4\n"
    "\n"
    "Eb7XFweW+0Ekf6+Qu1Y57FVtje3BtkqKlnsFYlMIChHrod7MT4TOU0/oqo1JcVq7\n"
    "i3pHLKKviTlA7r7WuEllZHNqNvm12GGSf3djeG3DydOGaYvRE14R28fmvM2sC6Z6\n"
    "4cGeEQO4C0d6w+YajuqceJKQlUpUimptJLNZ9DdeEyxbSqZhyAXk3pbJk86Vq0Mp\n"
    "0Y9bG7Fg5YqKWQ==\n"
    "-----END VOUCH ENCRYPTED PRIVATE KEY-----\n";
constexpr std::string_view kPinnedVouchKeyId =
    "9b21acc18fb906159997d8f403c4d4e81a90822a60242416b5d8d70db0479692";

TEST_CASE("vouch format: files at the former default cost (Argon2id 64 MiB, t=3) still read") {
  const auto start = std::chrono::steady_clock::now();
  auto d = decrypt_key_file(kPinnedVouchFile, pass("pinned vouch test passphrase"));
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
  CHECK(d->key.public_key().id() == kPinnedVouchKeyId);
  CHECK(d->info.role == "targets");
  CHECK(d->info.gun == "example.com/vouch/app");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("Argon2id m=64 MiB t=3, one decryption: " << ms << " ms");
}

TEST_CASE("vouch format: the default cost is OWASP's Argon2id setting, written in the headers") {
  const WriteOptions defaults;
  CHECK(defaults.format == KeyFileFormat::kVouch);
  CHECK(defaults.argon2.memory_kib == 19456U);
  CHECK(defaults.argon2.iterations == 2U);
  CHECK(defaults.argon2.parallelism == 1U);
  CHECK(defaults.pbkdf2_iterations == 1'000'000U);
  CHECK(kArgon2StartupParams.memory_kib == 65536U);
  CHECK(kArgon2StartupParams.iterations == 3U);

  auto key = PrivateKey::generate(KeyType::kEcdsa);
  REQUIRE(key.ok());
  auto file = encrypt_key_file(*key, "targets", "example.com/app", pass("default cost"));
  REQUIRE(file.ok());
  const std::string_view text(*file);
  CHECK(text.find("\nkdf-memory-kib: 19456\nkdf-iterations: 2\nkdf-parallelism: 1\n") !=
        std::string_view::npos);
  const auto start = std::chrono::steady_clock::now();
  auto d = decrypt_key_file(text, pass("default cost"));
  REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
  CHECK(d->key.public_key().id() == key->public_key().id());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("Argon2id at the default cost, one decryption: " << ms << " ms");
  CHECK(reason_of(decrypt_key_file(text, pass("wrong"))) == Reason::kBadPassphrase);
}

TEST_CASE("encrypt_key_file: argument checks") {
  PrivateKey key = gen(KeyType::kEcdsa);
  CHECK(reason_of(encrypt_key_file(key, "root", "", pass(""), fast_vouch())) ==
        Reason::kNoPassphrase);
  CHECK(!encrypt_key_file(key, "", "", pass("passphrase-1"), fast_vouch()).ok());
  CHECK(!encrypt_key_file(key, "ro le", "", pass("passphrase-1"), fast_vouch()).ok());
  CHECK(!encrypt_key_file(key, "root", "gun\nrole: x", pass("passphrase-1"), fast_vouch()).ok());
  WriteOptions plain;
  plain.format = KeyFileFormat::kPlain;
  CHECK(reason_of(encrypt_key_file(key, "root", "", pass("passphrase-1"), plain)) ==
        Reason::kUnsupportedAlgorithm);
  WriteOptions notary = fast_notary();
  notary.pbkdf2_iterations = 20'000'000;
  CHECK(reason_of(encrypt_key_file(key, "root", "", pass("passphrase-1"), notary)) ==
        Reason::kTooLarge);
}

// =============================================================================================
// key_file: Notary's format
// =============================================================================================

TEST_CASE("notary format: write then read, every key type") {
  for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(to_string(type));
    PrivateKey key = gen(type);
    auto pem = encrypt_key_file(key, "snapshot", "example.com/app", pass("notary-pass"),
                                fast_notary());
    REQUIRE(pem.ok());
    // Go's pem.Encode order: headers sorted by name.
    CHECK(pem->starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: example.com/app\n"
                           "role: snapshot\n\n"));
    auto d = decrypt_key_file(*pem, pass("notary-pass"));
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    CHECK(d->info.format == KeyFileFormat::kNotary);
    CHECK(d->key.public_key().id() == key.public_key().id());
    CHECK(reason_of(decrypt_key_file(*pem, pass("wrong"))) == Reason::kBadPassphrase);
  }
}

TEST_CASE("notary format: the path header for `notary key import`") {
  PrivateKey key = gen(KeyType::kEcdsa);
  WriteOptions o = fast_notary();
  o.notary_path_header = true;
  auto pem = encrypt_key_file(key, "root", "", pass("notary-pass"), o);
  REQUIRE(pem.ok());
  CHECK(pem->starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\npath: " +
                         key.public_key().id() + "\nrole: root\n\n"));
  CHECK(decrypt_key_file(*pem, pass("notary-pass")).ok());
}

TEST_CASE("notary format: the default write is PBKDF2-HMAC-SHA1 x 1,000,000, 16-byte salt") {
  PrivateKey key = gen(KeyType::kEcdsa);
  WriteOptions defaults;
  defaults.format = KeyFileFormat::kNotary;
  auto pem = encrypt_key_file(key, "root", "", pass("notary-pass"), defaults);
  REQUIRE(pem.ok());
  auto block = parse_pem_block(*pem);
  REQUIRE(block.ok());
  // Independent check with OpenSSL's own PKCS#8 decoder and PBES2 implementation.
  const unsigned char* p = block->body.data();
  X509_SIG* sig = d2i_X509_SIG(nullptr, &p, static_cast<long>(block->body.size()));
  REQUIRE(sig != nullptr);
  const X509_ALGOR* alg = nullptr;
  X509_SIG_get0(sig, &alg, nullptr);
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  CHECK(OBJ_obj2nid(oid) == NID_pbes2);
  const auto* s = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* q = ASN1_STRING_get0_data(s);
  PBE2PARAM* pbe2 = d2i_PBE2PARAM(nullptr, &q, ASN1_STRING_length(s));
  REQUIRE(pbe2 != nullptr);
  X509_ALGOR_get0(&oid, &ptype, &pval, pbe2->keyfunc);
  s = static_cast<const ASN1_STRING*>(pval);
  q = ASN1_STRING_get0_data(s);
  PBKDF2PARAM* kdf = d2i_PBKDF2PARAM(nullptr, &q, ASN1_STRING_length(s));
  REQUIRE(kdf != nullptr);
  std::int64_t iter = 0;
  CHECK(ASN1_INTEGER_get_int64(&iter, kdf->iter) == 1);
  CHECK(iter == 1'000'000);
  CHECK(ASN1_STRING_length(kdf->salt->value.octet_string) == 16);
  CHECK(kdf->prf == nullptr);        // absent = HMAC-SHA1, exactly as Notary writes
  CHECK(kdf->keylength == nullptr);  // absent, as Notary writes
  PKCS8_PRIV_KEY_INFO* p8 = PKCS8_decrypt(sig, "notary-pass", 11);
  CHECK(p8 != nullptr);
  PKCS8_PRIV_KEY_INFO_free(p8);
  PBKDF2PARAM_free(kdf);
  PBE2PARAM_free(pbe2);
  X509_SIG_free(sig);
}

TEST_CASE("notary format: the iteration count from the file is capped before deriving") {
  PrivateKey key = gen(KeyType::kEcdsa);
  const auto start = std::chrono::steady_clock::now();
  ForgedPbes2 f;
  f.iterations = 1ULL << 40;
  CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"))) ==
        Reason::kTooLarge);
  f.iterations = 10'000'001;
  CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"))) ==
        Reason::kTooLarge);
  f.iterations = 0;
  CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"))) ==
        Reason::kMalformed);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));

  KdfLimits tight;
  tight.max_pbkdf2_iterations = 1000;
  f.iterations = 2048;
  CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"), tight)) ==
        Reason::kTooLarge);
}

TEST_CASE("notary format: PRF and cipher choices") {
  PrivateKey key = gen(KeyType::kEcdsa);
  ForgedPbes2 f;
  SUBCASE("absent PRF (the forger's baseline) decrypts") {
    auto d = decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"));
    REQUIRE(d.ok());
    CHECK(d->key.public_key().id() == key.public_key().id());
  }
  SUBCASE("explicit hmacWithSHA1 is accepted") {
    f.prf = seq({kOidHmacSha1, kDerNull});
    CHECK(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw")).ok());
    f.prf = seq({kOidHmacSha1});
    CHECK(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw")).ok());
  }
  SUBCASE("another PRF is refused: Notary would derive with SHA-1 regardless") {
    f.prf = seq({kOidHmacSha256, kDerNull});
    CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"))) ==
          Reason::kUnsupportedAlgorithm);
  }
  SUBCASE("only AES-256-CBC") {
    f.cipher_oid = kOidAes128Cbc;
    CHECK(reason_of(decrypt_key_file(forge_notary_file(key, "pw", f), pass("pw"))) ==
          Reason::kUnsupportedAlgorithm);
  }
}

TEST_CASE("notary vectors: files made by the real notary CLI and Notary's library") {
  const auto vectors = notary_vectors();
  REQUIRE(vectors.size() == expected_vectors().size());
  for (const Vector& v : vectors) {
    CAPTURE(v.label);
    auto it = expected_vectors().find(v.label);
    REQUIRE(it != expected_vectors().end());
    const Expected& want = it->second;
    const std::string pem = read_text(v.path);

    auto info = inspect_key_file(pem);
    REQUIRE(info.ok());
    CHECK(info->format == want.format);
    CHECK(info->encrypted);
    CHECK(info->role == want.role);
    CHECK(info->gun == want.gun);

    auto d = decrypt_key_file(pem, pass(kNotaryVectorPassphrase));
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    CHECK(d->key.type() == want.type);
    CHECK(d->key.public_key().id() == v.key_id);

    auto wrong = decrypt_key_file(pem, pass("not-the-passphrase"));
    CHECK(reason_of(wrong) == Reason::kBadPassphrase);
    CHECK(reason_of(decrypt_key_file(pem, pass(""))) == Reason::kBadPassphrase);
  }
}

TEST_CASE("notary format: a key we write decrypts with `openssl pkcs8`") {
  if (!program_exists("/usr/bin/openssl")) {
    MESSAGE("skipped: /usr/bin/openssl not installed");
    return;
  }
  TempDir dir;
  PrivateKey key = gen(KeyType::kEcdsa);
  auto pem = encrypt_key_file(key, "root", "", pass("openssl-pass"), fast_notary());
  REQUIRE(pem.ok());
  write_text(dir.path() / "k.pem", strip_headers(*pem));
  write_text(dir.path() / "pw", "openssl-pass");
  write_text(dir.path() / "bad", "wrong-pass");
  const std::string base = "/usr/bin/openssl pkcs8 -in " + (dir.path() / "k.pem").string() +
                           " -out " + (dir.path() / "out.pem").string();
  CHECK(std::system((base + " -passin file:" + (dir.path() / "pw").string() + " 2>/dev/null")
                        .c_str()) == 0);
  CHECK(read_text(dir.path() / "out.pem").starts_with("-----BEGIN PRIVATE KEY-----"));
  CHECK(std::system((base + " -passin file:" + (dir.path() / "bad").string() + " 2>/dev/null")
                        .c_str()) != 0);
}

// =============================================================================================
// key_file: unencrypted and legacy PEM
// =============================================================================================

namespace {

// PEM of `key` written by OpenSSL in the traditional format, optionally encrypted.
std::string openssl_traditional(const PrivateKey& key, const EVP_CIPHER* cipher,
                                std::string_view passphrase) {
  const SecretBytes der = key.to_pkcs8_der();
  const unsigned char* p = der.data();
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  REQUIRE(pkey != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pw(passphrase);
  REQUIRE(PEM_write_bio_PrivateKey_traditional(
              bio, pkey, cipher, cipher ? reinterpret_cast<unsigned char*>(pw.data()) : nullptr,
              static_cast<int>(pw.size()), nullptr, nullptr) == 1);
  char* data = nullptr;
  const long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));  // BIO_get_mem_data
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return out;
}

std::string add_header_after_begin(std::string pem, std::string_view header_lines,
                                   bool after_dek_info) {
  std::size_t pos = pem.find('\n') + 1;
  if (after_dek_info) pos = pem.find('\n', pem.find("DEK-Info")) + 1;
  pem.insert(pos, header_lines);
  return pem;
}

}  // namespace

TEST_CASE("plain PEM: PKCS#8, SEC1 and PKCS#1 with role/gun headers") {
  PrivateKey ec = gen(KeyType::kEcdsa);
  PrivateKey rsa = gen(KeyType::kRsa);

  const SecretBytes der = ec.to_pkcs8_der(Pkcs8Flavor::kNotary);
  std::string pkcs8 = "-----BEGIN PRIVATE KEY-----\ngun: example.com/x\nrole: targets\n\n" +
                      base64_encode(der.span()) + "\n-----END PRIVATE KEY-----\n";
  auto d = decrypt_key_file(pkcs8, pass("ignored"));
  REQUIRE(d.ok());
  CHECK(d->info.format == KeyFileFormat::kPlain);
  CHECK(!d->info.encrypted);
  CHECK(d->info.gun == "example.com/x");
  CHECK(d->key.public_key().id() == ec.public_key().id());

  auto sec1 = add_header_after_begin(openssl_traditional(ec, nullptr, ""), "role: root\n\n",
                                     false);
  CHECK(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----\nrole: root\n"));
  auto d2 = decrypt_key_file(sec1, SecretString());
  REQUIRE(d2.ok());
  CHECK(d2->key.public_key().id() == ec.public_key().id());
  CHECK(d2->info.role == "root");

  auto pkcs1 = openssl_traditional(rsa, nullptr, "");
  CHECK(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
  auto d3 = decrypt_key_file(pkcs1, SecretString());
  REQUIRE(d3.ok());
  CHECK(d3->key.public_key().id() == rsa.public_key().id());

  CHECK(reason_of(decrypt_key_file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                   SecretString())) == Reason::kUnsupportedAlgorithm);
}

TEST_CASE("legacy PEM encryption (Proc-Type/DEK-Info) written by OpenSSL") {
  PrivateKey ec = gen(KeyType::kEcdsa);
  for (const EVP_CIPHER* cipher : {EVP_aes_256_cbc(), EVP_aes_128_cbc(), EVP_des_ede3_cbc()}) {
    CAPTURE(EVP_CIPHER_get0_name(cipher));
    auto pem = add_header_after_begin(openssl_traditional(ec, cipher, "legacy-pass"),
                                      "role: root\n", true);
    auto info = inspect_key_file(pem);
    REQUIRE(info.ok());
    CHECK(info->format == KeyFileFormat::kLegacyPem);
    CHECK(info->encrypted);
    CHECK(info->role == "root");
    auto d = decrypt_key_file(pem, pass("legacy-pass"));
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    CHECK(d->key.public_key().id() == ec.public_key().id());
    CHECK(reason_of(decrypt_key_file(pem, pass("wrong-pass"))) == Reason::kBadPassphrase);
  }
  auto des = add_header_after_begin(openssl_traditional(ec, EVP_aes_256_cbc(), "legacy-pass"),
                                    "", true);
  des = replace_once(des, "DEK-Info: AES-256-CBC,", "DEK-Info: DES-CBC,");
  CHECK(reason_of(decrypt_key_file(des, pass("legacy-pass"))) == Reason::kUnsupportedAlgorithm);
}

// =============================================================================================
// passphrase sources
// =============================================================================================

TEST_CASE("passphrase_env_vars: Notary's and Docker's names per role, VOUCH_* first") {
  using V = std::vector<std::string_view>;
  CHECK(passphrase_env_vars("root") == V{"VOUCH_ROOT_PASSPHRASE", "NOTARY_ROOT_PASSPHRASE",
                                         "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"});
  CHECK(passphrase_env_vars("targets") ==
        V{"VOUCH_TARGETS_PASSPHRASE", "NOTARY_TARGETS_PASSPHRASE",
          "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"});
  CHECK(passphrase_env_vars("snapshot") ==
        V{"VOUCH_SNAPSHOT_PASSPHRASE", "NOTARY_SNAPSHOT_PASSPHRASE",
          "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"});
  CHECK(passphrase_env_vars("timestamp") ==
        V{"VOUCH_TIMESTAMP_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"});
  const V deleg{"VOUCH_DELEGATION_PASSPHRASE", "NOTARY_DELEGATION_PASSPHRASE",
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
  CHECK(passphrase_env_vars("targets/releases") == deleg);
  CHECK(passphrase_env_vars("delegation") == deleg);
  CHECK(passphrase_env_vars("user") == deleg);
}

TEST_CASE("EnvPassphraseSource: hermetic environment") {
  std::map<std::string, std::string> env;
  EnvPassphraseSource src([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  PassphraseRequest root{kId, "root", "", false, 0};
  PassphraseRequest targets{kId, "targets", "example.com/app", false, 0};
  PassphraseRequest deleg{kId, "targets/releases", "", false, 0};

  CHECK(reason_of(src.get(root)) == Reason::kNoPassphrase);

  env["DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"] = "docker-root";
  env["DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"] = "docker-repo";
  CHECK(src.get(root)->view() == "docker-root");
  CHECK(src.get(targets)->view() == "docker-repo");
  CHECK(src.get(deleg)->view() == "docker-repo");

  env["NOTARY_ROOT_PASSPHRASE"] = "notary-root";
  env["NOTARY_TARGETS_PASSPHRASE"] = "notary-targets";
  env["NOTARY_DELEGATION_PASSPHRASE"] = "notary-deleg";
  CHECK(src.get(root)->view() == "notary-root");
  CHECK(src.get(targets)->view() == "notary-targets");
  CHECK(src.get(deleg)->view() == "notary-deleg");

  env["VOUCH_ROOT_PASSPHRASE"] = "vouch-root";
  CHECK(src.get(root)->view() == "vouch-root");
  env["VOUCH_ROOT_PASSPHRASE"] = "";  // empty = unset, as in Notary
  CHECK(src.get(root)->view() == "notary-root");

  // A second attempt means the value was wrong: fail at once, naming the variable.
  root.attempt = 1;
  auto again = src.get(root);
  CHECK(reason_of(again) == Reason::kBadPassphrase);
  CHECK(again.error().message.find("NOTARY_ROOT_PASSPHRASE") != std::string::npos);
  CHECK(again.error().message.find("notary-root") == std::string::npos);
}

TEST_CASE("read_private_file: owner-only regular files up to a size") {
  TempDir dir;
  const fs::path f = dir.path() / "secret";
  CHECK(reason_of(read_private_file(f, "secret file", 8)) == Reason::kNotFound);

  write_text(f, "12345678");  // exactly the limit
  auto read = read_private_file(f, "secret file", 8);
  REQUIRE(read.ok());
  CHECK(std::string(reinterpret_cast<const char*>(read->data()), read->size()) == "12345678");
  write_text(f, "");
  REQUIRE(read_private_file(f, "secret file", 8).ok());
  CHECK(read_private_file(f, "secret file", 8)->size() == 0);

  write_text(f, "123456789");
  auto large = read_private_file(f, "secret file", 8);
  CHECK(reason_of(large) == Reason::kTooLarge);
  CHECK(large.error().message.find("secret file " + f.string()) != std::string::npos);

  write_text(f, "1234", fs::perms(0604));
  auto insecure = read_private_file(f, "secret file", 8);
  CHECK(reason_of(insecure) == Reason::kInsecureFile);
  CHECK(insecure.error().message.find("chmod 600 " + f.string()) != std::string::npos);
  write_text(f, "1234", fs::perms(0660));
  CHECK(reason_of(read_private_file(f, "secret file", 8)) == Reason::kInsecureFile);

  fs::create_directories(dir.path() / "sub");
  fs::permissions(dir.path() / "sub", fs::perms(0700));
  CHECK(reason_of(read_private_file(dir.path() / "sub", "secret file", 8)) == Reason::kIo);
  // A FIFO is refused at once; open() used to wait for a writer that never comes.
  REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  CHECK(reason_of(read_private_file(dir.path() / "fifo", "secret file", 8)) == Reason::kIo);
}

TEST_CASE("FilePassphraseSource: permissions and newline handling") {
  TempDir dir;
  const fs::path f = dir.path() / "pw";
  PassphraseRequest req{kId, "root", "", false, 0};
  FilePassphraseSource src(f);
  CHECK(reason_of(src.get(req)) == Reason::kNoPassphrase);  // missing

  write_text(f, "file-pass\n");
  CHECK(src.get(req)->view() == "file-pass");
  write_text(f, "file-pass\r\n");
  CHECK(src.get(req)->view() == "file-pass");
  write_text(f, "file-pass\n\n");
  CHECK(src.get(req)->view() == "file-pass\n");  // exactly one newline stripped
  write_text(f, " spaced pass ");
  CHECK(src.get(req)->view() == " spaced pass ");
  write_text(f, "\n");
  CHECK(reason_of(src.get(req)) == Reason::kNoPassphrase);

  write_text(f, "file-pass\n", fs::perms(0644));
  auto insecure = src.get(req);
  CHECK(reason_of(insecure) == Reason::kInsecureFile);
  CHECK(insecure.error().message.find("chmod 600") != std::string::npos);
  write_text(f, "file-pass\n", fs::perms(0640));
  CHECK(reason_of(src.get(req)) == Reason::kInsecureFile);

  write_text(f, "file-pass\n", fs::perms(0400));
  req.attempt = 1;
  CHECK(reason_of(src.get(req)) == Reason::kBadPassphrase);
}

TEST_CASE("ChainPassphraseSource: first that yields; a wrong env value stops the chain") {
  std::map<std::string, std::string> env;
  auto lookup = [&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto scripted = std::make_unique<ScriptedSource>(std::vector<std::string>{"from-script"});
  ScriptedSource* script = scripted.get();
  std::vector<std::unique_ptr<PassphraseSource>> sources;
  sources.push_back(std::make_unique<EnvPassphraseSource>(lookup));
  sources.push_back(std::move(scripted));
  ChainPassphraseSource chain(std::move(sources));

  PassphraseRequest req{kId, "root", "", false, 0};
  CHECK(chain.get(req)->view() == "from-script");
  env["NOTARY_ROOT_PASSPHRASE"] = "from-env";
  CHECK(chain.get(req)->view() == "from-env");
  req.attempt = 1;
  CHECK(reason_of(chain.get(req)) == Reason::kBadPassphrase);
  CHECK(script->requests.size() == 1);  // never asked after the env value was wrong
}

TEST_CASE("prompt_credentials: a username echoed, a password not, as the notary CLI asks") {
  Pty pty;
  PromptPassphraseSource::Options o;
  o.in_fd = pty.slave;
  Result<TerminalCredentials> got = make_error(Reason::kInternal, "not run");
  std::thread t([&] { got = prompt_credentials("https://auth.example.com:443", o); });
  std::string out;
  const auto user_at = wait_for(pty.master, out, "Enter username: ");
  CHECK(out.find("https://auth.example.com:443 asks for credentials.") != std::string::npos);
  CHECK(pty.echo_on());  // the username is shown as typed
  if (user_at != std::string::npos) type_line(pty.master, " alice ");
  const auto pass_at = wait_for(pty.master, out, "Enter password: ", user_at);
  CHECK(pass_at != std::string::npos);
  CHECK_FALSE(pty.echo_on());
  if (pass_at != std::string::npos) type_line(pty.master, "s3cret word");
  t.join();
  REQUIRE(got.ok());
  CHECK(got->username == "alice");
  CHECK(got->password.view() == "s3cret word");
  CHECK(pty.echo_on());
  wait_for(pty.master, out, "\n", pass_at);
  CHECK(out.find("s3cret") == std::string::npos);

  SUBCASE("an empty username means none") {
    std::thread t2([&] { got = prompt_credentials("https://auth.example.com:443", o); });
    std::string out2;
    if (wait_for(pty.master, out2, "Enter username: ") != std::string::npos) {
      type_line(pty.master, "");
    }
    t2.join();
    CHECK(reason_of(got) == Reason::kNoPassphrase);
    CHECK(out2.find("Enter password") == std::string::npos);
  }
  SUBCASE("no terminal: refused at once, naming NOTARY_AUTH") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    PromptPassphraseSource::Options piped;
    piped.in_fd = fds[0];
    auto r = prompt_credentials("https://auth.example.com:443", piped);
    ::close(fds[0]);
    ::close(fds[1]);
    CHECK(reason_of(r) == Reason::kNoPassphrase);
    if (!r.ok()) CHECK(r.error().message.find("NOTARY_AUTH") != std::string::npos);
  }
}

TEST_CASE("prompt_new_password: asked twice without echo; too short or different: again") {
  Pty pty;
  PromptPassphraseSource::Options o;
  o.in_fd = pty.slave;
  Result<SecretString> got = make_error(Reason::kInternal, "not run");
  std::thread t([&] { got = prompt_new_password("new user bob", o); });
  std::string out;
  // short; then two different entries; then the same twice.
  const std::string enter = "Enter password for new user bob: ";
  const std::string repeat = "Repeat password for new user bob: ";
  const std::pair<std::string, std::string> steps[] = {{enter, "tiny"},
                                                       {enter, "first-password"},
                                                       {repeat, "other-password"},
                                                       {enter, "good password"},
                                                       {repeat, "good password"}};
  std::size_t at = 0;
  for (const auto& [prompt, typed] : steps) {
    at = wait_for(pty.master, out, prompt, at);
    CHECK(at != std::string::npos);
    if (at == std::string::npos) break;
    CHECK_FALSE(pty.echo_on());
    type_line(pty.master, typed);
  }
  t.join();
  REQUIRE(got.ok());
  CHECK(got->view() == "good password");
  CHECK(pty.echo_on());  // restored
  wait_for(pty.master, out, "\n", at);
  CHECK(out.find("Enter password for new user bob: ") != std::string::npos);
  CHECK(out.find("Repeat password for new user bob: ") != std::string::npos);
  CHECK(out.find("Password is too short: at least 8 characters. Please retry.") !=
        std::string::npos);
  CHECK(out.find("Passwords do not match. Please retry.") != std::string::npos);
  for (const char* secret : {"tiny", "first-password", "other-password", "good password"}) {
    CHECK(out.find(secret) == std::string::npos);  // never echoed
  }

  SUBCASE("no terminal: refused at once") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    PromptPassphraseSource::Options piped;
    piped.in_fd = fds[0];
    auto r = prompt_new_password("new user bob", piped);
    ::close(fds[0]);
    ::close(fds[1]);
    CHECK(reason_of(r) == Reason::kNoPassphrase);
  }
}

TEST_CASE("PromptPassphraseSource: unlocking a key on a pseudo-terminal") {
  Pty pty;
  REQUIRE(pty.echo_on());
  PromptPassphraseSource::Options o;
  o.in_fd = pty.slave;
  PromptPassphraseSource src(o);
  Result<SecretString> got = make_error(Reason::kInternal, "not run");
  std::thread t([&] { got = src.get({kId, "root", "", false, 0}); });
  std::string out;
  const auto at = wait_for(pty.master, out, "Enter passphrase for root key with ID abc1234: ");
  CHECK(at != std::string::npos);
  CHECK_FALSE(pty.echo_on());  // echo is off while the passphrase is typed
  if (at != std::string::npos) type_line(pty.master, "  typed secret  ");
  t.join();
  REQUIRE(got.ok());
  CHECK(got->view() == "typed secret");  // trimmed, as Notary does
  CHECK(pty.echo_on());                  // restored
  wait_for(pty.master, out, "\n", at);
  CHECK(out.find("typed secret") == std::string::npos);  // never echoed

  SUBCASE("a retry says the previous one was wrong") {
    std::thread t2([&] { got = src.get({kId, "targets", "g", false, 1}); });
    std::string out2;
    const auto at2 = wait_for(pty.master, out2, "Enter passphrase for targets key with ID abc1234: ");
    CHECK(out2.find("Passphrase incorrect. Please retry.") != std::string::npos);
    if (at2 != std::string::npos) type_line(pty.master, "second");
    t2.join();
    CHECK(got->view() == "second");
  }
  SUBCASE("end of input") {
    std::thread t3([&] { got = src.get({kId, "root", "", false, 0}); });
    std::string out3;
    const auto at3 = wait_for(pty.master, out3, "Enter passphrase");
    const char eof = 4;  // Ctrl-D
    if (at3 != std::string::npos) REQUIRE(::write(pty.master, &eof, 1) == 1);
    t3.join();
    CHECK(reason_of(got) == Reason::kNoPassphrase);
    CHECK(pty.echo_on());
  }
}

TEST_CASE("PromptPassphraseSource: a new passphrase is confirmed and must be long enough") {
  Pty pty;
  PromptPassphraseSource::Options o;
  o.in_fd = pty.slave;
  o.out_fd = pty.slave;
  PromptPassphraseSource src(o);
  Result<SecretString> got = make_error(Reason::kInternal, "not run");
  std::thread t([&] { got = src.get({kId, "root", "", true, 0}); });
  std::string out;
  std::size_t at = wait_for(pty.master, out, "Enter passphrase for new root key with ID abc1234: ");
  REQUIRE(at != std::string::npos);
  CHECK(out.find("You are about to create a new root signing key passphrase.") !=
        std::string::npos);
  type_line(pty.master, "short");
  at = wait_for(pty.master, out, "Passphrase is too short.", at);
  REQUIRE(at != std::string::npos);
  at = wait_for(pty.master, out, "Enter passphrase for new root key with ID abc1234: ", at);
  REQUIRE(at != std::string::npos);
  type_line(pty.master, "long enough 1");
  at = wait_for(pty.master, out, "Repeat passphrase for new root key with ID abc1234: ", at);
  REQUIRE(at != std::string::npos);
  type_line(pty.master, "long enough 2");
  at = wait_for(pty.master, out, "Passphrases do not match. Please retry.", at);
  REQUIRE(at != std::string::npos);
  at = wait_for(pty.master, out, "Enter passphrase for new root key with ID abc1234: ", at);
  REQUIRE(at != std::string::npos);
  type_line(pty.master, "long enough 1");
  at = wait_for(pty.master, out, "Repeat passphrase for new root key", at);
  REQUIRE(at != std::string::npos);
  type_line(pty.master, "long enough 1");
  t.join();
  REQUIRE(got.ok());
  CHECK(got->view() == "long enough 1");
  CHECK(pty.echo_on());

  SUBCASE("gives up after max_create_tries") {
    std::thread t2([&] { got = src.get({kId, "targets", "g", true, 0}); });
    std::string out2;
    std::size_t at2 = 0;
    for (int i = 0; i < 3; ++i) {
      at2 = wait_for(pty.master, out2, "Enter passphrase for new targets key", at2);
      if (at2 == std::string::npos) break;
      type_line(pty.master, "short");
    }
    t2.join();
    CHECK(reason_of(got) == Reason::kNoPassphrase);
    CHECK(out2.find("You are about to create") == std::string::npos);  // root only
  }
}

TEST_CASE("PromptPassphraseSource: no terminal fails at once, naming the env var") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  PromptPassphraseSource::Options o;
  o.in_fd = fds[0];
  o.out_fd = fds[1];
  PromptPassphraseSource src(o);
  auto r = src.get({kId, "root", "", false, 0});
  CHECK(reason_of(r) == Reason::kNoPassphrase);
  CHECK(r.error().message.find("NOTARY_ROOT_PASSPHRASE") != std::string::npos);
  auto r2 = src.get({kId, "targets/releases", "", false, 0});
  CHECK(r2.error().message.find("NOTARY_DELEGATION_PASSPHRASE") != std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);

  // Without a controlling terminal, the default (/dev/tty) cannot be opened: a child in a new
  // session checks that get() returns kNoPassphrase instead of blocking.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(10);  // a hang would kill the child: the test then fails below
    ::setsid();
    PromptPassphraseSource dflt;
    auto res = dflt.get({kId, "root", "", false, 0});
    ::_exit(!res.ok() && res.error().reason == Reason::kNoPassphrase ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("PromptPassphraseSource: SIGTERM while echo is off restores the terminal") {
  Pty pty;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGTERM, nullptr);  // SIG_DFL; doctest installs its own handlers
    ::alarm(10);
    PromptPassphraseSource::Options o;
    o.in_fd = pty.slave;
    PromptPassphraseSource src(o);
    (void)src.get({kId, "root", "", false, 0});
    ::_exit(3);
  }
  std::string out;
  CHECK(wait_for(pty.master, out, "Enter passphrase for root key") != std::string::npos);
  CHECK_FALSE(pty.echo_on());
  ::kill(child, SIGTERM);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);  // the default action still happened
  CHECK(pty.echo_on());                // ... after echo was turned back on
}

// =============================================================================================
// TrustDirKeyStore
// =============================================================================================

TEST_CASE("keystore: add, list, load, remove in the flat layout") {
  TempDir dir;
  const fs::path trust = dir.path() / "home" / ".notary";
  auto store = TrustDirKeyStore::open(trust, fast_store());
  REQUIRE(store.ok());
  auto list0 = store->list();
  REQUIRE(list0.ok());
  CHECK(list0->keys.empty());  // no private dir yet: empty, nothing created
  CHECK_FALSE(fs::exists(trust));

  PrivateKey root = gen(KeyType::kEcdsa);
  PrivateKey targets = gen(KeyType::kEd25519);
  PrivateKey deleg = gen(KeyType::kEcdsa);
  ScriptedSource create({"root-passphrase", "targets-passphrase", "deleg-passphrase"});
  REQUIRE(store->add(root, "root", "ignored.example/gun", create).ok());
  REQUIRE(store->add(targets, "targets", "example.com/app", create).ok());
  REQUIRE(store->add(deleg, "targets/releases", "example.com/app", create).ok());
  REQUIRE(create.requests.size() == 3);
  CHECK(create.requests[0].create);
  CHECK(create.requests[0].key_id == root.public_key().id());
  CHECK(create.requests[0].gun.empty());  // root keys are GUN-independent
  CHECK(create.requests[1].gun == "example.com/app");

  CHECK(mode_of(trust) == 0700U);
  CHECK(mode_of(trust / "private") == 0700U);
  const fs::path root_file = trust / "private" / (root.public_key().id() + ".key");
  CHECK(mode_of(root_file) == 0600U);
  CHECK(read_text(root_file).starts_with("-----BEGIN VOUCH ENCRYPTED PRIVATE KEY-----\n"));

  auto listing = store->list();
  REQUIRE(listing.ok());
  CHECK(listing->problems.empty());
  REQUIRE(listing->keys.size() == 3);
  std::map<std::string, KeyEntry> by_id;
  for (auto& e : listing->keys) by_id.emplace(e.key_id, e);
  CHECK(by_id.at(root.public_key().id()).role == "root");
  CHECK(by_id.at(root.public_key().id()).gun.empty());
  CHECK(by_id.at(targets.public_key().id()).role == "targets");
  CHECK(by_id.at(targets.public_key().id()).gun == "example.com/app");
  CHECK(by_id.at(deleg.public_key().id()).role == "targets/releases");
  CHECK(by_id.at(deleg.public_key().id()).gun.empty());  // delegation keys too
  CHECK(by_id.at(deleg.public_key().id()).format == KeyFileFormat::kVouch);

  ScriptedSource unlock({"targets-passphrase"});
  auto loaded = store->load(targets.public_key().id(), unlock);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key().id() == targets.public_key().id());
  REQUIRE(unlock.requests.size() == 1);
  CHECK(unlock.requests[0].role == "targets");
  CHECK_FALSE(unlock.requests[0].create);

  ScriptedSource again({"root-passphrase"});
  CHECK(reason_of(store->add(root, "root", "", again)) == Reason::kConflict);
  CHECK(again.requests.empty());  // refused before asking

  REQUIRE(store->remove(root.public_key().id()).ok());
  CHECK_FALSE(fs::exists(root_file));
  CHECK(reason_of(store->remove(root.public_key().id())) == Reason::kUnknownKey);
  ScriptedSource none({});
  CHECK(reason_of(store->load(root.public_key().id(), none)) == Reason::kUnknownKey);

  ScriptedSource s({"pw-long-enough"});
  CHECK(reason_of(store->add(gen(KeyType::kEcdsa), "snapshot", "", s)) == Reason::kBadGun);
  CHECK(reason_of(store->add(gen(KeyType::kEcdsa), "bad role", "", s)) == Reason::kBadRole);
}

TEST_CASE("keystore: passphrase attempts") {
  TempDir dir;
  auto store = TrustDirKeyStore::open(dir.path(), fast_store());
  REQUIRE(store.ok());
  PrivateKey key = gen(KeyType::kEcdsa);
  const std::string id = key.public_key().id();
  ScriptedSource create({"the-right-one"});
  REQUIRE(store->add(key, "root", "", create).ok());

  SUBCASE("an interactive source gets three tries") {
    ScriptedSource s({"wrong-1", "wrong-2", "the-right-one"});
    auto k = store->load(id, s);
    REQUIRE(k.ok());
    REQUIRE(s.requests.size() == 3);
    CHECK(s.requests[0].attempt == 0);
    CHECK(s.requests[2].attempt == 2);
  }
  SUBCASE("and no more") {
    ScriptedSource s({"wrong-1", "wrong-2", "wrong-3", "the-right-one"});
    CHECK(reason_of(store->load(id, s)) == Reason::kBadPassphrase);
    CHECK(s.requests.size() == 3);
  }
  SUBCASE("an env source fails at once") {
    std::map<std::string, std::string> env{{"NOTARY_ROOT_PASSPHRASE", "wrong"}};
    int lookups = 0;
    EnvPassphraseSource s([&](const char* name) -> const char* {
      ++lookups;
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
    auto r = store->load(id, s);
    CHECK(reason_of(r) == Reason::kBadPassphrase);
    CHECK(r.error().message.find("NOTARY_ROOT_PASSPHRASE") != std::string::npos);
    env["NOTARY_ROOT_PASSPHRASE"] = "the-right-one";
    CHECK(store->load(id, s).ok());
  }
  SUBCASE("no passphrase at all") {
    ScriptedSource s({});
    CHECK(reason_of(store->load(id, s)) == Reason::kNoPassphrase);
  }
}

TEST_CASE("keystore: insecure files and directories are refused") {
  TempDir dir;
  auto store = TrustDirKeyStore::open(dir.path(), fast_store());
  REQUIRE(store.ok());
  PrivateKey key = gen(KeyType::kEcdsa);
  const std::string id = key.public_key().id();
  ScriptedSource create({"passphrase-1"});
  REQUIRE(store->add(key, "root", "", create).ok());
  const fs::path file = dir.path() / "private" / (id + ".key");

  fs::permissions(file, fs::perms(0644));
  ScriptedSource s({"passphrase-1"});
  auto r = store->load(id, s);
  CHECK(reason_of(r) == Reason::kInsecureFile);
  CHECK(r.error().message.find("chmod 600") != std::string::npos);
  CHECK(s.requests.empty());  // refused before asking for a passphrase
  auto listing = store->list();
  REQUIRE(listing.ok());
  CHECK(listing->keys.empty());
  REQUIRE(listing->problems.size() == 1);
  CHECK(listing->problems[0].error.reason == Reason::kInsecureFile);
  fs::permissions(file, fs::perms(0600));
  CHECK(store->load(id, s).ok());

  fs::permissions(dir.path() / "private", fs::perms(0777));
  CHECK(reason_of(TrustDirKeyStore::open(dir.path(), fast_store())) == Reason::kInsecureFile);
  ScriptedSource s2({"passphrase-1"});
  CHECK(reason_of(store->load(id, s2)) == Reason::kInsecureFile);
  CHECK(reason_of(store->list()) == Reason::kInsecureFile);
  fs::permissions(dir.path() / "private", fs::perms(0700));
}

TEST_CASE("keystore: key IDs never become paths unless they are 64 lowercase hex") {
  TempDir dir;
  const fs::path trust = dir.path() / "trust";
  auto store = TrustDirKeyStore::open(trust, fast_store());
  REQUIRE(store.ok());
  // A real key file outside the private dir that traversal would reach.
  PrivateKey key = gen(KeyType::kEcdsa);
  auto pem = encrypt_key_file(key, "root", "", pass("passphrase-1"), fast_vouch());
  REQUIRE(pem.ok());
  write_text(dir.path() / "x.key", *pem);
  write_text(trust / "private" / "placeholder", "");
  fs::permissions(trust / "private", fs::perms(0700));

  ScriptedSource s({"passphrase-1"});
  for (std::string_view bad :
       {"../x", "../../x", "/etc/passwd", "", ".", "..",
        "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678",
        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789/..",
        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456g89"}) {
    CAPTURE(bad);
    CHECK(reason_of(store->load(bad, s)) == Reason::kUnknownKey);
    CHECK(reason_of(store->find(bad)) == Reason::kUnknownKey);
    CHECK(reason_of(store->remove(bad)) == Reason::kUnknownKey);
  }
  CHECK(s.requests.empty());
  CHECK(fs::exists(dir.path() / "x.key"));
  CHECK(is_valid_key_id(key.public_key().id()));
}

TEST_CASE("keystore: a file under the wrong name is refused") {
  TempDir dir;
  auto store = TrustDirKeyStore::open(dir.path(), fast_store());
  REQUIRE(store.ok());
  PrivateKey a = gen(KeyType::kEcdsa);
  PrivateKey b = gen(KeyType::kEcdsa);
  auto pem = encrypt_key_file(a, "root", "", pass("passphrase-1"), fast_vouch());
  REQUIRE(pem.ok());
  fs::create_directories(dir.path() / "private");
  fs::permissions(dir.path() / "private", fs::perms(0700));
  write_text(dir.path() / "private" / (b.public_key().id() + ".key"), *pem);
  ScriptedSource s({"passphrase-1"});
  CHECK(reason_of(store->load(b.public_key().id(), s)) == Reason::kMalformed);
}

TEST_CASE("keystore: a trust dir written by the real notary CLI") {
  TempDir dir;
  const fs::path priv = dir.path() / "private";
  fs::create_directories(priv);
  fs::permissions(priv, fs::perms(0700));
  std::map<std::string, Vector> by_id;
  for (const Vector& v : notary_vectors()) {
    if (v.label == "legacy-root") continue;
    write_text(priv / (v.key_id + ".key"), read_text(v.path));  // 0600: git keeps no modes
    by_id.emplace(v.key_id, v);
  }
  auto store = TrustDirKeyStore::open(dir.path(), fast_store(KeyFileFormat::kNotary));
  REQUIRE(store.ok());
  auto listing = store->list();
  REQUIRE(listing.ok());
  CHECK(listing->problems.empty());
  REQUIRE(listing->keys.size() == by_id.size());
  for (const KeyEntry& e : listing->keys) {
    CAPTURE(e.key_id);
    const Expected& want = expected_vectors().at(by_id.at(e.key_id).label);
    CHECK(e.role == want.role);
    CHECK(e.gun == want.gun);
    CHECK(e.format == KeyFileFormat::kNotary);
    CHECK_FALSE(e.legacy_location);
  }

  // Unlock every key with Notary's env variables, as a CI job would.
  const std::string p(kNotaryVectorPassphrase);
  std::map<std::string, std::string> env{{"NOTARY_ROOT_PASSPHRASE", p},
                                         {"NOTARY_TARGETS_PASSPHRASE", p},
                                         {"NOTARY_SNAPSHOT_PASSPHRASE", p},
                                         {"NOTARY_DELEGATION_PASSPHRASE", p}};
  EnvPassphraseSource env_source([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  LocalSigner signer(*store, env_source);
  const Bytes message = {'s', 'i', 'g', 'n', 'e', 'd'};
  for (const auto& [id, v] : by_id) {
    CAPTURE(v.label);
    auto pub = signer.public_key(id);
    REQUIRE_MESSAGE(pub.ok(), (pub.ok() ? "" : pub.error().message));
    auto sig = signer.sign(*pub, message);
    REQUIRE(sig.ok());
    CHECK(pub->verify(sig->method, message, sig->bytes).ok());
  }

  // change_passphrase keeps Notary's format, so the notary CLI can still read the file.
  const std::string root_id = std::find_if(by_id.begin(), by_id.end(), [](const auto& kv) {
                                return kv.second.label == "notary-cli-root";
                              })->first;
  ScriptedSource next({"a-new-passphrase"});
  REQUIRE(store->change_passphrase(root_id, env_source, next).ok());
  CHECK(read_text(priv / (root_id + ".key"))
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\nrole: root\n\n"));
  CHECK(mode_of(priv / (root_id + ".key")) == 0600U);
  CHECK(reason_of(store->load(root_id, env_source)) == Reason::kBadPassphrase);
  ScriptedSource unlock({"a-new-passphrase"});
  CHECK(store->load(root_id, unlock).ok());
}

TEST_CASE("keystore: legacy root_keys/ and tuf_keys/<gun>/ layouts") {
  TempDir dir;
  const fs::path priv = dir.path() / "private";
  fs::create_directories(priv / "root_keys");
  fs::create_directories(priv / "tuf_keys" / "example.com" / "vouch" / "app");
  for (const fs::path& d : {priv, priv / "root_keys", priv / "tuf_keys",
                            priv / "tuf_keys" / "example.com",
                            priv / "tuf_keys" / "example.com" / "vouch",
                            priv / "tuf_keys" / "example.com" / "vouch" / "app"}) {
    fs::permissions(d, fs::perms(0700));
  }
  Vector legacy;
  Vector targets;
  for (const Vector& v : notary_vectors()) {
    if (v.label == "legacy-root") legacy = v;
    if (v.label == "notary-cli-targets") targets = v;
  }
  REQUIRE(!legacy.key_id.empty());
  REQUIRE(!targets.key_id.empty());
  // Old clients: root_keys/<id>_root.key; tuf_keys/<gun>/<id>_<role>.key without a gun header.
  write_text(priv / "root_keys" / (legacy.key_id + "_root.key"), read_text(legacy.path));
  std::string no_gun = read_text(targets.path);
  no_gun = replace_once(no_gun, "gun: example.com/vouch/app\n", "");
  no_gun = replace_once(no_gun, "role: targets\n", "");
  write_text(priv / "tuf_keys" / "example.com" / "vouch" / "app" /
                 (targets.key_id + "_targets.key"),
             no_gun);
  write_text(priv / "root_keys" / "README.txt", "not a key");

  auto store = TrustDirKeyStore::open(dir.path(), fast_store());
  REQUIRE(store.ok());
  auto listing = store->list();
  REQUIRE(listing.ok());
  CHECK(listing->problems.empty());
  REQUIRE(listing->keys.size() == 2);
  for (const KeyEntry& e : listing->keys) {
    CHECK(e.legacy_location);
    if (e.key_id == legacy.key_id) {
      CHECK(e.role == "root");
      CHECK(e.format == KeyFileFormat::kLegacyPem);
    } else {
      CHECK(e.key_id == targets.key_id);
      CHECK(e.role == "targets");              // from the file name
      CHECK(e.gun == "example.com/vouch/app");  // from the directory
    }
  }

  StaticPassphraseSource p{pass(kNotaryVectorPassphrase)};
  auto root = store->load(legacy.key_id, p);
  REQUIRE_MESSAGE(root.ok(), (root.ok() ? "" : root.error().message));
  CHECK(root->public_key().id() == legacy.key_id);
  CHECK(store->load(targets.key_id, p).ok());

  // A new passphrase moves the key to the flat layout (in the store's default format).
  ScriptedSource next({"moved-passphrase"});
  REQUIRE(store->change_passphrase(legacy.key_id, p, next).ok());
  CHECK_FALSE(fs::exists(priv / "root_keys" / (legacy.key_id + "_root.key")));
  const fs::path moved = priv / (legacy.key_id + ".key");
  CHECK(read_text(moved).starts_with("-----BEGIN VOUCH ENCRYPTED PRIVATE KEY-----\n"
                                     "version: 1\nrole: root\n"));
  auto entry = store->find(legacy.key_id);
  REQUIRE(entry.ok());
  CHECK_FALSE(entry->legacy_location);
  ScriptedSource unlock({"moved-passphrase"});
  CHECK(store->load(legacy.key_id, unlock).ok());

  REQUIRE(store->remove(targets.key_id).ok());
  CHECK(reason_of(store->find(targets.key_id)) == Reason::kUnknownKey);
}

TEST_CASE("keystore: export for the notary CLI, checked with the real notary CLI") {
  TempDir dir;
  auto store = TrustDirKeyStore::open(dir.path() / "vouch", fast_store());
  REQUIRE(store.ok());
  PrivateKey key = gen(KeyType::kEcdsa);
  const std::string id = key.public_key().id();
  ScriptedSource create({"vouch-side-passphrase"});
  REQUIRE(store->add(key, "root", "", create).ok());

  ScriptedSource current({"vouch-side-passphrase"});
  ScriptedSource next({"notary-side-passphrase"});
  auto exported = store->export_key(id, current, next, fast_notary());
  REQUIRE(exported.ok());
  CHECK(exported->starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\npath: " + id +
                              "\nrole: root\n\n"));
  auto back = decrypt_key_file(*exported, pass("notary-side-passphrase"));
  REQUIRE(back.ok());
  CHECK(back->key.public_key().id() == id);

  if (!program_exists("/usr/bin/notary")) {
    MESSAGE("skipped the notary CLI half: /usr/bin/notary not installed");
    return;
  }
  // `notary key import` stores it; `notary key passwd` must decrypt it to re-encrypt it.
  const fs::path file = dir.path() / "export.key";
  write_text(file, *exported);
  const std::string notary = "env -i HOME=" + dir.path().string() +
                             " NOTARY_ROOT_PASSPHRASE=notary-side-passphrase /usr/bin/notary -d " +
                             (dir.path() / "notary").string();
  CHECK(std::system((notary + " key import " + file.string() + " >/dev/null 2>&1").c_str()) == 0);
  CHECK(fs::exists(dir.path() / "notary" / "private" / (id + ".key")));
  CHECK(std::system((notary + " key passwd " + id + " </dev/null >/dev/null 2>&1").c_str()) == 0);
  const std::string wrong = "env -i HOME=" + dir.path().string() +
                            " NOTARY_ROOT_PASSPHRASE=wrong /usr/bin/notary -d " +
                            (dir.path() / "notary").string();
  CHECK(std::system((wrong + " key passwd " + id + " </dev/null >/dev/null 2>&1").c_str()) != 0);
  // And what notary re-encrypted (2048 rounds, 8-byte salt) we read back.
  fs::permissions(dir.path() / "notary" / "private" / (id + ".key"), fs::perms(0600));
  auto from_notary = decrypt_key_file(read_text(dir.path() / "notary" / "private" / (id + ".key")),
                                      pass("notary-side-passphrase"));
  REQUIRE(from_notary.ok());
  CHECK(from_notary->key.public_key().id() == id);
}

// =============================================================================================
// LocalSigner
// =============================================================================================

TEST_CASE("LocalSigner: create, sign, verify; one passphrase per key per signer") {
  TempDir dir;
  auto store = TrustDirKeyStore::open(dir.path(), fast_store());
  REQUIRE(store.ok());
  ScriptedSource creating({"root-pass-123", "targets-pass-123"});
  LocalSigner creator(*store, creating);
  auto root_pub = creator.create_key("example.com/app", "root", KeyType::kEcdsa);
  REQUIRE(root_pub.ok());
  auto targets_pub = creator.create_key("example.com/app", "targets", KeyType::kEd25519);
  REQUIRE(targets_pub.ok());
  CHECK(reason_of(creator.create_key("example.com/app", "root", KeyType::kEcdsaX509)) ==
        Reason::kUnsupportedAlgorithm);

  const Bytes message = {'{', '}'};
  auto s1 = creator.sign(*targets_pub, message);  // still unlocked from creation
  REQUIRE(s1.ok());
  CHECK(s1->method == SigMethod::kEddsa);
  CHECK(targets_pub->verify(s1->method, message, s1->bytes).ok());
  CHECK(creating.requests.size() == 2);

  // A fresh signer (a new process) asks once per key, however many signatures.
  ScriptedSource unlocking({"root-pass-123"});
  LocalSigner signer(*store, unlocking);
  for (int i = 0; i < 3; ++i) {
    auto s = signer.sign(*root_pub, message);
    REQUIRE(s.ok());
    CHECK(s->method == SigMethod::kEcdsa);
    CHECK(root_pub->verify(s->method, message, s->bytes).ok());
  }
  CHECK(unlocking.requests.size() == 1);

  // A root key as root.json lists it (an ecdsa-x509 certificate) signs with its plain key.
  ScriptedSource cert_pass({"root-pass-123"});
  auto priv = store->load(root_pub->id(), cert_pass);
  REQUIRE(priv.ok());
  const TimePoint now = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
  auto cert = make_root_certificate(*priv, "example.com/app", now,
                                    now + std::chrono::hours(24 * 365));
  REQUIRE(cert.ok());
  auto cert_key = PublicKey::from_pem(cert->pem());
  REQUIRE(cert_key.ok());
  CHECK(cert_key->id() != root_pub->id());
  CHECK(cert_key->canonical_id() == root_pub->id());
  auto s2 = signer.sign(*cert_key, message);
  REQUIRE(s2.ok());
  CHECK(cert_key->verify(s2->method, message, s2->bytes).ok());
  CHECK(unlocking.requests.size() == 1);

  // Unknown keys and forgotten keys.
  PrivateKey other = gen(KeyType::kEcdsa);
  CHECK(reason_of(signer.sign(other.public_key(), message)) == Reason::kUnknownKey);
  CHECK(reason_of(signer.public_key("../../etc/passwd")) == Reason::kUnknownKey);
  signer.forget_keys();
  CHECK(reason_of(signer.sign(*root_pub, message)) == Reason::kNoPassphrase);  // script empty
  auto pk = creator.public_key(root_pub->id());
  REQUIRE(pk.ok());
  CHECK(pk->id() == root_pub->id());
}
