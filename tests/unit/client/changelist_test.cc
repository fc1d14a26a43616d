// The changelist (client/changelist.h): the JSON of a change and its payloads, byte for byte
// as notary 0.7 writes them; the staging helpers; FileChangelist on disk; and compatibility
// with the real notary CLI in both directions (skipped when /usr/bin/notary is missing).
// Tests assert on Reason, never on message text.

#include "client/changelist.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/integration/signer_test_util.h"
#include "tests/support/check_macros.h"

namespace vouch::client {
namespace {

namespace fs = std::filesystem;
using signer_test::read_file;
using signer_test::TempDir;
using signer_test::write_file;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string text_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TimePoint fixed_time() {
  return TimePoint(std::chrono::sys_days(std::chrono::year{2026} / 11 / 28).time_since_epoch());
}

keys::PublicKey new_key(keys::KeyType type = keys::KeyType::kEcdsa) {
  return keys::PrivateKey::generate(type, 2048).value().public_key();
}

// ---- vectors written by the real notary 0.7 (`notary add/remove/witness/delegation`) ----

// `notary add example.com/foo v1 <file holding "hello\n">`
constexpr std::string_view kNotaryAddV1 =
    R"({"action":"create","role":"targets","type":"target","path":"v1","data":"eyJsZW5ndGgiOjYsImhhc2hlcyI6eyJzaGEyNTYiOiJXSkcxdFNMVjN3aHREL0N4RVB2WjBodTAvSEZqcnpUUWdvYWk2RWIydmdNPSIsInNoYTUxMiI6IjU4SXJtVXhaMmM4clNPVkpzZUpHWm1OZ1JaTU5QYWZCckxLWjBjTzMrVEg1U3E1Qjdkb3NLeUI2TnVFUGk4dU5SU0krVkllUFd6RnVmT08ydkFHV0tRPT0ifX0="})";
// `notary add ... v2 <same file> --custom <{"a":[1,2],"b":"<x>&"}> -r targets/releases`
constexpr std::string_view kNotaryAddCustom =
    R"({"action":"create","role":"targets/releases","type":"target","path":"v2","data":"eyJsZW5ndGgiOjYsImhhc2hlcyI6eyJzaGEyNTYiOiJXSkcxdFNMVjN3aHREL0N4RVB2WjBodTAvSEZqcnpUUWdvYWk2RWIydmdNPSIsInNoYTUxMiI6IjU4SXJtVXhaMmM4clNPVkpzZUpHWm1OZ1JaTU5QYWZCckxLWjBjTzMrVEg1U3E1Qjdkb3NLeUI2TnVFUGk4dU5SU0krVkllUFd6RnVmT08ydkFHV0tRPT0ifSwiY3VzdG9tIjp7ImEiOlsxLDJdLCJiIjoiXHUwMDNjeFx1MDAzZVx1MDAyNiJ9fQ=="})";
// `notary remove example.com/foo v1`
constexpr std::string_view kNotaryRemove =
    R"({"action":"delete","role":"targets","type":"target","path":"v1","data":null})";
// `notary witness example.com/foo targets/releases`
constexpr std::string_view kNotaryWitness =
    R"({"action":"update","role":"targets/releases","type":"witness","path":"","data":null})";
// `notary delegation purge example.com/foo --key abc123`
constexpr std::string_view kNotaryPurge =
    R"({"action":"update","role":"targets/*","type":"delegation","path":"","data":"eyJyZW1vdmVfa2V5cyI6WyJhYmMxMjMiXX0="})";
// `notary delegation add ... targets/releases --all-paths` (the paths change)
constexpr std::string_view kNotaryAllPaths =
    R"({"action":"create","role":"targets/releases","type":"delegation","path":"","data":"eyJhZGRfcGF0aHMiOlsiIl19"})";
// `notary delegation remove ... targets/releases --paths a`
constexpr std::string_view kNotaryRemovePaths =
    R"({"action":"update","role":"targets/releases","type":"delegation","path":"","data":"eyJyZW1vdmVfcGF0aHMiOlsiYSJdfQ=="})";

TEST_CASE("changes notary wrote parse, and re-encode to the same bytes") {
  for (std::string_view vector : {kNotaryAddV1, kNotaryAddCustom, kNotaryRemove, kNotaryWitness,
                                  kNotaryPurge, kNotaryAllPaths, kNotaryRemovePaths}) {
    CAPTURE(vector);
    auto c = parse_change(vector);
    REQUIRE_OK(c);
    auto again = encode_change(*c);
    REQUIRE_OK(again);
    CHECK(*again == vector);
  }

  auto add = parse_change(kNotaryAddV1).value();
  CHECK(add.action == kActionCreate);
  CHECK(add.role == "targets");
  CHECK(add.type == kTypeTarget);
  CHECK(add.path == "v1");
  auto meta = parse_target_payload(*add.data);
  REQUIRE_OK(meta);
  CHECK(*meta == tuf::FileMeta::of(as_bytes("hello\n")));
  // The payload re-encodes byte-identically too (Go's field order and sorted hash names).
  CHECK(encode_target_payload(*meta).value() == *add.data);

  auto custom = parse_change(kNotaryAddCustom).value();
  auto cmeta = parse_target_payload(*custom.data).value();
  REQUIRE(cmeta.custom.has_value());
  CHECK(cmeta.custom->find("b")->as_string() == "<x>&");
  // Go escapes '<', '>' and '&' in the custom JSON; so does vouch.
  CHECK(encode_target_payload(cmeta).value() == *custom.data);

  auto removal = parse_change(kNotaryRemove).value();
  CHECK_FALSE(removal.data.has_value());

  auto purge = parse_change(kNotaryPurge).value();
  auto payload = parse_delegation_payload(*purge.data).value();
  CHECK(payload.remove_keys == std::vector<std::string>{"abc123"});
  CHECK(payload.add_keys.empty());
  CHECK(encode_delegation_payload(payload).value() == *purge.data);
  CHECK(purge_delegation_keys_change({"abc123"}).value() == purge);

  auto all_paths = parse_change(kNotaryAllPaths).value();
  CHECK(parse_delegation_payload(*all_paths.data).value().add_paths ==
        std::vector<std::string>{""});
  CHECK(add_delegation_paths_change("targets/releases", {""}).value() == all_paths);
  CHECK(remove_delegation_paths_change("targets/releases", {"a"}).value() ==
        parse_change(kNotaryRemovePaths).value());
  CHECK(witness_change("targets/releases") == parse_change(kNotaryWitness).value());
  CHECK(remove_target_change("targets", "v1").value() == removal);
  CHECK(add_target_change("targets", "v1", *meta).value() == add);
}

TEST_CASE("strings are escaped as Go's encoding/json escapes them") {
  Change c{"create", "targets", "target",
           "a\"b\\c\n\r\t\x01<>&\xE2\x80\xA8\xE2\x80\xA9\x7F\xC3\xA4/", std::nullopt};
  CHECK(encode_change(c).value() ==
        R"({"action":"create","role":"targets","type":"target",)"
        R"("path":"a\"b\\c\n\r\t\u0001\u003c\u003e\u0026\u2028\u2029)"
        "\x7F\xC3\xA4"
        R"(/","data":null})");
  // And the escapes parse back to the same string.
  CHECK(parse_change(encode_change(c).value()).value() == c);

  // Empty data is not null: Go writes "" for an empty non-nil []byte.
  Change empty{"create", "targets", "target", "x", Bytes{}};
  CHECK(encode_change(empty).value() ==
        R"({"action":"create","role":"targets","type":"target","path":"x","data":""})");
  CHECK(parse_change(encode_change(empty).value()).value() == empty);
}

TEST_CASE("invalid UTF-8 is refused rather than silently replaced") {
  for (std::string bad : {std::string("\xFF"), std::string("\xC3"), std::string("\xC0\xAF"),
                          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80")}) {
    CHECK_REASON(encode_change({"create", "targets", "target", "t" + bad, std::nullopt}),
                 Reason::kInvalidUtf8);
  }
  CHECK_REASON(encode_change({"create", "targets\xFF", "target", "t", std::nullopt}),
               Reason::kInvalidUtf8);
  DelegationPayload p;
  p.add_paths = {"\xFF"};
  CHECK_REASON(encode_delegation_payload(p), Reason::kInvalidUtf8);
}

TEST_CASE("parse_change reads what Go's Unmarshal reads and refuses the rest") {
  SUBCASE("missing and null fields are empty, unknown fields ignored") {
    auto c = parse_change(R"({"action":"create","role":null,"extra":[1,{"x":2}]})");
    REQUIRE_OK(c);
    CHECK(c->action == "create");
    CHECK(c->role.empty());
    CHECK(c->type.empty());
    CHECK(c->path.empty());
    CHECK_FALSE(c->data.has_value());
  }
  SUBCASE("wrong types") {
    CHECK_REASON(parse_change(R"({"action":1})"), Reason::kMalformed);
    CHECK_REASON(parse_change(R"({"path":["a"]})"), Reason::kMalformed);
    CHECK_REASON(parse_change(R"({"data":5})"), Reason::kMalformed);
    CHECK_REASON(parse_change(R"(["create"])"), Reason::kMalformed);
  }
  SUBCASE("bad base64 in data") {
    CHECK_REASON(parse_change(R"({"data":"not base64!"})"), Reason::kMalformed);
  }
  SUBCASE("not JSON, duplicate keys") {
    CHECK_FALSE(parse_change("garbage").ok());
    CHECK_REASON(parse_change(R"({"action":"create","action":"delete"})"),
                 Reason::kDuplicateKey);
  }
  SUBCASE("size limit") {
    const std::string big = R"({"path":")" + std::string(100, 'a') + R"("})";
    CHECK_REASON(parse_change(big, 50), Reason::kTooLarge);
    CHECK(parse_change(big, big.size()).ok());
  }
}

TEST_CASE("target payloads") {
  tuf::FileMeta meta = tuf::FileMeta::of(as_bytes("content"));
  auto enc = encode_target_payload(meta).value();
  CHECK(text_of(enc).rfind(R"({"length":7,"hashes":{"sha256":")", 0) == 0);
  CHECK(parse_target_payload(enc).value() == meta);

  meta.custom = tuf::json::parse(R"({"z":[true,null,-3],"a":"\u2028"})").value();
  enc = encode_target_payload(meta).value();
  CHECK(text_of(enc).find(R"("custom":{"a":"\u2028","z":[true,null,-3]}})") != std::string::npos);
  CHECK(parse_target_payload(enc).value() == meta);

  CHECK_REASON(parse_target_payload(bytes_of(R"({"length":1})")), Reason::kMalformed);
  CHECK_REASON(parse_target_payload(bytes_of(R"({"length":1,"hashes":{}})")),
               Reason::kMalformed);
  CHECK_REASON(parse_target_payload(bytes_of(R"({"length":-1,"hashes":{"sha256":"AA=="}})")),
               Reason::kMalformed);
  CHECK_REASON(parse_target_payload(bytes_of(R"({"hashes":{"sha256":"AA=="}})")),
               Reason::kMalformed);
  CHECK_REASON(parse_target_payload(bytes_of(R"({"length":1,"hashes":{"sha256":"A"}})")),
               Reason::kMalformed);
  // A fractional number in custom data: Go keeps it raw; the strict model cannot hold it.
  CHECK_REASON(
      parse_target_payload(bytes_of(R"({"length":1,"hashes":{"sha256":"AA=="},"custom":1.5})")),
      Reason::kNotInteger);
  auto null_custom =
      parse_target_payload(bytes_of(R"({"length":1,"hashes":{"sha256":"AA=="},"custom":null})"));
  REQUIRE_OK(null_custom);
  CHECK_FALSE(null_custom->custom.has_value());
}

TEST_CASE("delegation payloads") {
  const keys::PublicKey ecdsa = new_key();
  const keys::PublicKey ed = new_key(keys::KeyType::kEd25519);

  SUBCASE("every field, in Go's order, and back") {
    DelegationPayload p;
    p.new_name = "targets/renamed";
    p.threshold = 2;
    p.add_keys = {ecdsa, ed};
    p.remove_keys = {"k1"};
    p.add_paths = {"a/", ""};
    p.remove_paths = {"b/"};
    p.clear_paths = true;
    const std::string enc = text_of(encode_delegation_payload(p).value());
    const std::vector<std::string> order = {"new_name", "threshold", "add_keys", "remove_keys",
                                            "add_paths", "remove_paths", "clear_paths"};
    std::size_t last = 0;
    for (const auto& f : order) {
      const auto at = enc.find("\"" + f + "\":");
      REQUIRE(at != std::string::npos);
      CHECK(at >= last);
      last = at;
    }
    CHECK(enc.find(R"({"keytype":"ecdsa","keyval":{"public":")") != std::string::npos);
    CHECK(enc.find(R"(","private":null}})") != std::string::npos);
    auto back = parse_delegation_payload(bytes_of(enc));
    REQUIRE_OK(back);
    CHECK(*back == p);
    CHECK(back->add_keys[0].id() == ecdsa.id());
  }
  SUBCASE("empty fields are omitted") {
    CHECK(text_of(encode_delegation_payload({}).value()) == "{}");
    CHECK(parse_delegation_payload(bytes_of("{}")).value() == DelegationPayload{});
    CHECK(parse_delegation_payload(bytes_of(R"({"add_keys":null,"threshold":null})")).ok());
  }
  SUBCASE("keys must be public keys of a supported type") {
    const std::string pub = base64_encode(ecdsa.public_bytes());
    CHECK_REASON(parse_delegation_payload(bytes_of(
                     R"({"add_keys":[{"keytype":"ecdsa","keyval":{"public":")" + pub +
                     R"(","private":"c2VjcmV0"}}]})")),
                 Reason::kMalformed);
    CHECK_REASON(parse_delegation_payload(bytes_of(
                     R"({"add_keys":[{"keytype":"dsa","keyval":{"public":")" + pub + R"("}}]})")),
                 Reason::kUnsupportedAlgorithm);
    CHECK_REASON(parse_delegation_payload(
                     bytes_of(R"({"add_keys":[{"keytype":"ecdsa","keyval":{"public":"AAAA"}}]})")),
                 Reason::kMalformed);
    CHECK_REASON(parse_delegation_payload(bytes_of(R"({"add_keys":{}})")), Reason::kMalformed);
    CHECK_REASON(parse_delegation_payload(bytes_of(R"({"threshold":"1"})")), Reason::kMalformed);
    CHECK_REASON(parse_delegation_payload(bytes_of(R"({"clear_paths":1})")), Reason::kMalformed);
    CHECK_REASON(parse_delegation_payload(bytes_of(R"({"add_paths":[1]})")), Reason::kMalformed);
  }
}

TEST_CASE("staging checks role names as notary's client does") {
  const auto meta = tuf::FileMeta::of(as_bytes("x"));
  CHECK(add_target_change("targets", "t", meta).ok());
  CHECK(add_target_change("targets/releases", "t", meta).ok());
  CHECK(add_target_change("targets/*", "t", meta).ok());  // Notary's addChange allows it
  for (std::string_view bad : {"root", "snapshot", "", "targets/", "targets/../root",
                               "targets/Upper", "foo/bar"}) {
    CAPTURE(bad);
    CHECK_REASON(add_target_change(bad, "t", meta), Reason::kBadRole);
    CHECK_REASON(remove_target_change(bad, "t"), Reason::kBadRole);
    CHECK_REASON(add_delegation_keys_change(bad, {}), Reason::kBadRole);
    CHECK_REASON(delete_delegation_change(bad), Reason::kBadRole);
    CHECK_REASON(remove_delegation_keys_change(bad, {"k"}), Reason::kBadRole);
  }
  CHECK_REASON(add_delegation_keys_change("targets", {}), Reason::kBadRole);
  CHECK_REASON(add_delegation_paths_change("targets/*", {"a"}), Reason::kBadRole);
  CHECK_REASON(clear_delegation_paths_change("targets/*"), Reason::kBadRole);
  CHECK(remove_delegation_keys_change("targets/a/*", {"k"}).ok());

  tuf::FileMeta no_hashes;
  no_hashes.length = 3;
  CHECK_REASON(add_target_change("targets", "t", no_hashes), Reason::kMalformed);

  const keys::PublicKey key = new_key();
  auto keys_change = add_delegation_keys_change("targets/releases", {key}).value();
  CHECK(keys_change.action == kActionCreate);
  CHECK(keys_change.type == kTypeDelegation);
  CHECK(keys_change.path.empty());
  auto p = parse_delegation_payload(*keys_change.data).value();
  CHECK(p.threshold == 1);
  REQUIRE(p.add_keys.size() == 1);
  CHECK(p.add_keys[0].id() == key.id());

  auto clear = clear_delegation_paths_change("targets/releases").value();
  CHECK(clear.action == kActionUpdate);
  CHECK(text_of(*clear.data) == R"({"clear_paths":true})");
  auto del = delete_delegation_change("targets/releases").value();
  CHECK(del.action == kActionDelete);
  CHECK_FALSE(del.data.has_value());
}

TEST_CASE("wildcard delegation names") {
  CHECK(is_wildcard_delegation("targets/*"));
  CHECK(is_wildcard_delegation("targets/a/*"));
  CHECK(is_wildcard_delegation("targets/a/b-c/*"));
  CHECK_FALSE(is_wildcard_delegation("targets"));
  CHECK_FALSE(is_wildcard_delegation("targets/a"));
  CHECK_FALSE(is_wildcard_delegation("targets/a*"));
  CHECK_FALSE(is_wildcard_delegation("targets/*/*"));
  CHECK_FALSE(is_wildcard_delegation("targets//*"));
  CHECK_FALSE(is_wildcard_delegation("targets/../*"));
  CHECK_FALSE(is_wildcard_delegation("root/*"));
  CHECK_FALSE(is_wildcard_delegation("*"));
}

// ---- FileChangelist ----------------------------------------------------------------------

struct Dir {
  TempDir tmp{"vouch-changelist-test"};
  fs::path dir = tmp.path() / "trust" / "tuf" / "example.com" / "app" / "changelist";
  FixedClock clock{fixed_time()};
};

Change target_add(const std::string& name) {
  return add_target_change("targets", name, tuf::FileMeta::of(as_bytes(name))).value();
}

std::vector<std::string> paths_of(const ChangeListing& l) {
  std::vector<std::string> out;
  for (const auto& c : l.changes) out.push_back(c.change.path);
  return out;
}

TEST_CASE("open creates the directory tree with mode 0700") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock);
  REQUIRE_OK(cl);
  for (fs::path p = d.dir; p != d.tmp.path(); p = p.parent_path()) {
    CAPTURE(p);
    CHECK(mode_of(p) == 0700);
  }
  // Opening again is fine; a file in the way is not.
  CHECK(FileChangelist::open(d.dir, {}, d.clock).ok());
  write_file(d.tmp / "file", "x");
  CHECK_REASON(FileChangelist::open(d.tmp.path() / "file", {}, d.clock), Reason::kIo);
  CHECK_REASON(FileChangelist::open(d.tmp.path() / "file" / "sub", {}, d.clock), Reason::kIo);
}

TEST_CASE("add writes one 0600 file named as notary names it, holding the change's JSON") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock).value();
  const Change c = target_add("v1");
  auto name = cl.add(c);
  REQUIRE_OK(name);
  const std::regex notary_name(
      R"(\d{20}_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.change)");
  CHECK(std::regex_match(*name, notary_name));
  // The clock's instant in nanoseconds.
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         fixed_time().time_since_epoch())
                         .count();
  CHECK(std::stoll(name->substr(0, 20)) >= nanos);
  CHECK(mode_of(d.dir / *name) == 0600);
  CHECK(read_file(d.dir / *name) == encode_change(c).value());
  // Nothing else is left in the directory (no temporary file).
  CHECK(std::distance(fs::directory_iterator(d.dir), fs::directory_iterator()) == 1);

  auto listing = cl.list().value();
  REQUIRE(listing.changes.size() == 1);
  CHECK(listing.changes[0].file_name == *name);
  CHECK(listing.changes[0].change == c);
  CHECK(listing.warnings.empty());
}

TEST_CASE("many adds at one instant keep their order and never collide") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock).value();  // the clock stands still
  std::vector<std::string> want;
  std::set<std::string> names;
  for (int i = 0; i < 200; ++i) {
    want.push_back("t" + std::to_string(i));
    names.insert(cl.add(target_add(want.back())).value());
  }
  CHECK(names.size() == 200);
  CHECK(paths_of(cl.list().value()) == want);

  // Two changelists (as two processes would) over one directory interleave too.
  auto other = FileChangelist::open(d.dir, {}, d.clock).value();
  REQUIRE_OK(other.add(target_add("from-other")));
  REQUIRE_OK(cl.add(target_add("last")));
  auto all = paths_of(cl.list().value());
  REQUIRE(all.size() == 202);
  CHECK(all[200] == "from-other");
  CHECK(all[201] == "last");
}

TEST_CASE("list skips, with a warning, what is not a change and what does not parse") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock).value();
  REQUIRE_OK(cl.add(target_add("good")));
  write_file((d.dir / "00000000000000000001_broken.change").string(), "garbage");
  write_file((d.dir / "00000000000000000002_array.change").string(), "[1]");
  // Notary would list this one (it parses every file); vouch lists only *.change files.
  write_file((d.dir / "notes.txt").string(),
             R"({"action":"create","role":"targets","type":"target","path":"x","data":null})");
  fs::create_directory(d.dir / "subdir");  // directories are skipped silently, as in Notary
  fs::create_symlink(d.dir / "notes.txt", d.dir / "00000000000000000003_link.change");
  REQUIRE(::mkfifo((d.dir / "00000000000000000004_fifo.change").c_str(), 0600) == 0);

  auto listing = cl.list();
  REQUIRE_OK(listing);
  CHECK(paths_of(*listing) == std::vector<std::string>{"good"});
  CHECK(listing->warnings.size() == 5);
  for (const auto* name : {"broken", "array", "notes.txt", "link", "fifo"}) {
    CHECK_MESSAGE(std::any_of(listing->warnings.begin(), listing->warnings.end(),
                              [&](const std::string& w) { return w.find(name) != w.npos; }),
                  name);
  }
}

TEST_CASE("limits: change size and change count") {
  Dir d;
  ChangelistLimits limits;
  limits.max_change_bytes = 400;
  limits.max_changes = 3;
  auto cl = FileChangelist::open(d.dir, limits, d.clock).value();

  Change big = target_add("big");
  big.path = std::string(500, 'p');
  CHECK_REASON(cl.add(big), Reason::kTooLarge);
  CHECK(cl.list().value().changes.empty());

  for (int i = 0; i < 3; ++i) REQUIRE_OK(cl.add(target_add("t" + std::to_string(i))));
  CHECK_REASON(cl.add(target_add("t3")), Reason::kTooLarge);
  CHECK(cl.list().value().changes.size() == 3);

  // Files put there by someone else: one too many, or one too large, fail the listing.
  write_file((d.dir / "99999999999999999999_extra.change").string(), "{}");
  CHECK_REASON(cl.list(), Reason::kTooLarge);
  REQUIRE_OK(cl.clear());
  write_file((d.dir / "00000000000000000001_huge.change").string(), std::string(401, ' '));
  CHECK_REASON(cl.list(), Reason::kTooLarge);
  // reset --all still works, and then all is well.
  REQUIRE_OK(cl.clear());
  CHECK(cl.list().value().changes.empty());
}

TEST_CASE("remove takes the numbers list() shows; clear and clear_through") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock).value();
  // An unparsable file sorting first does not shift the numbers (it does in notary).
  write_file((d.dir / "00000000000000000001_broken.change").string(), "garbage");
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back(cl.add(target_add("t" + std::to_string(i))).value());
  write_file((d.dir / "keep.txt").string(), "not mine");

  const std::vector<std::size_t> two_and_zero = {2, 0, 2};
  REQUIRE_OK(cl.remove(two_and_zero));
  CHECK(paths_of(cl.list().value()) == std::vector<std::string>{"t1", "t3", "t4"});

  const std::vector<std::size_t> out_of_range = {0, 3};
  auto st = cl.remove(out_of_range);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Code::kOutOfRange);
  CHECK(paths_of(cl.list().value()) == std::vector<std::string>{"t1", "t3", "t4"});

  // Publish applied up to t3; t4 was staged meanwhile and stays.
  REQUIRE_OK(cl.clear_through(names[3]));
  CHECK(paths_of(cl.list().value()) == std::vector<std::string>{"t4"});
  CHECK_FALSE(fs::exists(d.dir / "00000000000000000001_broken.change"));
  CHECK_REASON(cl.clear_through("../x.change"), Reason::kMalformed);
  CHECK_REASON(cl.clear_through("name.txt"), Reason::kMalformed);

  REQUIRE_OK(cl.add(target_add("t5")));
  REQUIRE_OK(cl.clear());
  CHECK(cl.list().value().changes.empty());
  CHECK(fs::exists(d.dir / "keep.txt"));  // only *.change files are ours to remove
}

TEST_CASE("a changelist directory that disappears lists as empty") {
  Dir d;
  auto cl = FileChangelist::open(d.dir, {}, d.clock).value();
  fs::remove_all(d.dir);
  auto listing = cl.list();
  REQUIRE_OK(listing);
  CHECK(listing->changes.empty());
  CHECK(cl.clear().ok());
  CHECK_REASON(cl.add(target_add("x")), Reason::kIo);
}

// ---- the real notary CLI -------------------------------------------------------------------

constexpr const char* kNotary = "/usr/bin/notary";

bool have_notary() {
  std::error_code ec;
  return fs::exists(kNotary, ec);
}

// The notary CLI over a trust directory in a temporary directory, never reading a terminal
// or the user's ~/.notary.
struct NotaryCli {
  TempDir tmp{"vouch-changelist-notary"};
  std::string gun = "example.com/vouch/changelist";
  fs::path trust = tmp.path() / "trust";
  fs::path changelist_dir = trust / "tuf" / "example.com" / "vouch" / "changelist" / "changelist";

  NotaryCli() {
    fs::create_directories(tmp.path() / "home");
    write_file(tmp / "config.json", "{}");
  }

  std::string run(std::vector<std::string> args) {
    std::vector<std::string> all = {"-c", tmp / "config.json", "-d", trust.string()};
    all.insert(all.end(), args.begin(), args.end());
    auto [rc, out] = signer_test::run(kNotary, all, {{"HOME", tmp / "home"}}, tmp);
    INFO("notary ", args[0], ":\n", out);
    REQUIRE(rc == 0);
    return out;
  }

  // `notary status`: one {action, scope, type, path} per staged change, in order.
  std::vector<std::vector<std::string>> status() {
    const std::string out = run({"status", gun});
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::vector<std::string> w;
      for (std::string s; words >> s;) w.push_back(s);
      if (w.empty() || !std::all_of(w[0].begin(), w[0].end(), ::isdigit)) continue;
      CHECK(w[0] == std::to_string(rows.size()));
      w.erase(w.begin());
      if (w.size() == 3) w.emplace_back();  // no path
      rows.push_back(w);
    }
    return rows;
  }
};

std::vector<std::vector<std::string>> rows_of(const ChangeListing& l) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : l.changes) {
    rows.push_back({c.change.action, c.change.role, c.change.type, c.change.path});
  }
  return rows;
}

std::string cert_pem(const std::string& cn) {
  auto key = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  const TimePoint now = SystemClock::instance().now();
  return keys::make_root_certificate(key, cn, now - std::chrono::hours(1),
                                     now + std::chrono::hours(24 * 365))
      .value()
      .pem();
}

TEST_CASE("changes the real notary CLI stages are read, and re-encode to notary's bytes") {
  if (!have_notary()) {
    MESSAGE("skipped: /usr/bin/notary is missing (install the Debian package notary; "
            "scripts/install-deps.sh does)");
    return;
  }
  NotaryCli n;
  write_file(n.tmp / "payload", "hello from notary\n");
  write_file(n.tmp / "custom.json", R"({"build": 7, "note": "<a & b>"})");
  const std::string pem = cert_pem("delegate");
  write_file(n.tmp / "delegate.crt", pem);
  const auto delegate = keys::PublicKey::from_pem(pem).value();

  n.run({"add", n.gun, "v1", n.tmp / "payload"});
  n.run({"add", n.gun, "v2", n.tmp / "payload", "--custom", n.tmp / "custom.json", "-r",
         "targets/releases"});
  n.run({"remove", n.gun, "old"});
  n.run({"delegation", "add", n.gun, "targets/releases", n.tmp / "delegate.crt", "--paths",
         "a/,b/"});
  n.run({"delegation", "remove", n.gun, "targets/releases", "--paths", "a/"});
  n.run({"delegation", "remove", n.gun, "targets/qa", "--yes"});
  n.run({"delegation", "purge", n.gun, "--key", delegate.canonical_id()});
  n.run({"witness", n.gun, "targets/releases"});

  auto cl = FileChangelist::open(n.changelist_dir).value();
  auto listing = cl.list();
  REQUIRE_OK(listing);
  CHECK(listing->warnings.empty());
  const std::vector<std::vector<std::string>> want = {
      {"create", "targets", "target", "v1"},
      {"create", "targets/releases", "target", "v2"},
      {"delete", "targets", "target", "old"},
      {"create", "targets/releases", "delegation", ""},  // keys
      {"create", "targets/releases", "delegation", ""},  // paths
      {"update", "targets/releases", "delegation", ""},
      {"delete", "targets/qa", "delegation", ""},
      {"update", "targets/*", "delegation", ""},
      {"update", "targets/releases", "witness", ""},
  };
  CHECK(rows_of(*listing) == want);
  CHECK(n.status() == want);  // notary agrees on the order

  // Every file re-encodes to exactly the bytes notary wrote.
  for (const auto& lc : listing->changes) {
    CAPTURE(lc.file_name);
    CHECK(encode_change(lc.change).value() == read_file(cl.dir() / lc.file_name));
  }
  const auto& c = listing->changes;
  const auto v1 = parse_target_payload(*c[0].change.data).value();
  CHECK(v1 == tuf::FileMeta::of(as_bytes("hello from notary\n")));
  const auto v2 = parse_target_payload(*c[1].change.data).value();
  REQUIRE(v2.custom.has_value());
  CHECK(v2.custom->find("note")->as_string() == "<a & b>");
  CHECK(v2.custom->find("build")->as_int() == 7);

  const auto keys_payload = parse_delegation_payload(*c[3].change.data).value();
  CHECK(keys_payload.threshold == 1);
  REQUIRE(keys_payload.add_keys.size() == 1);
  CHECK(keys_payload.add_keys[0].id() == delegate.id());
  CHECK(keys_payload.add_keys[0].type() == keys::KeyType::kEcdsaX509);
  // vouch stages the same bytes for the same command.
  CHECK(add_delegation_keys_change("targets/releases", {delegate}).value() == c[3].change);
  CHECK(add_delegation_paths_change("targets/releases", {"a/", "b/"}).value() == c[4].change);
  CHECK(remove_delegation_paths_change("targets/releases", {"a/"}).value() == c[5].change);
  CHECK(delete_delegation_change("targets/qa").value() == c[6].change);
  CHECK(purge_delegation_keys_change({delegate.canonical_id()}).value() == c[7].change);
  CHECK(witness_change("targets/releases") == c[8].change);
  CHECK(remove_target_change("targets", "old").value() == c[2].change);
  CHECK(add_target_change("targets", "v1", v1).value() == c[0].change);
}

TEST_CASE("changes vouch stages are listed by the real notary CLI, which can reset them") {
  if (!have_notary()) {
    MESSAGE("skipped: /usr/bin/notary is missing (install the Debian package notary; "
            "scripts/install-deps.sh does)");
    return;
  }
  NotaryCli n;
  auto cl = FileChangelist::open(n.changelist_dir).value();
  const auto key = new_key();
  const auto meta = tuf::FileMeta::of(as_bytes("payload"));
  const std::vector<Change> staged = {
      add_target_change("targets", "v1.0", meta).value(),
      add_target_change("targets/releases", "odd <&> name", meta).value(),
      remove_target_change("targets", "v0.9").value(),
      add_delegation_keys_change("targets/ci", {key}).value(),
      add_delegation_paths_change("targets/ci", {""}).value(),
      clear_delegation_paths_change("targets/ci").value(),
      delete_delegation_change("targets/old").value(),
      purge_delegation_keys_change({key.canonical_id()}).value(),
      witness_change("targets/ci"),
  };
  for (const auto& c : staged) REQUIRE_OK(cl.add(c));
  // The directories vouch created have the modes notary gives them.
  CHECK(mode_of(n.trust) == 0700);
  CHECK(mode_of(n.changelist_dir) == 0700);

  auto expect = rows_of(cl.list().value());
  REQUIRE(expect.size() == staged.size());
  // notary's table splits on whitespace: compare the one name with spaces by its pieces.
  auto status = n.status();
  REQUIRE(status.size() == staged.size());
  CHECK(status[1] == std::vector<std::string>{"create", "targets/releases", "target", "odd", "<&>",
                                              "name"});
  status.erase(status.begin() + 1);
  expect.erase(expect.begin() + 1);
  CHECK(status == expect);

  // notary's `reset -n` and vouch agree on numbering when every file parses.
  n.run({"reset", n.gun, "-n", "0", "-n", "3"});
  auto after = cl.list().value();
  REQUIRE(after.changes.size() == staged.size() - 2);
  CHECK(after.changes[0].change == staged[1]);
  CHECK(after.changes[2].change == staged[4]);
  // And vouch's remove is what notary then shows.
  const std::vector<std::size_t> first = {0};
  REQUIRE_OK(cl.remove(first));
  CHECK(n.status().size() == staged.size() - 3);
  REQUIRE_OK(cl.clear());
  CHECK(n.status().empty());
}

}  // namespace
}  // namespace vouch::client
