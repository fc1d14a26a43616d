// common/config_file.h: loading, typed getters and each of their error paths.

#include "common/config_file.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"

namespace vouch {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// One output of each type a getter writes.
struct Outputs {
  std::string str;
  long long n = 0;
  std::size_t size = 0;
  std::uint32_t u32 = 0;
  bool b = false;
  std::vector<std::string> list;
};

ConfigFile parse_ok(std::string_view text, ConfigFileOptions options = {}) {
  auto file = ConfigFile::parse(text, "/etc/vouch/config.json", options);
  REQUIRE_OK(file);
  return std::move(*file);
}

TEST_CASE("load: a missing file is kNotFound, a large one kTooLarge, a directory kIo") {
  TempDir dir;
  CHECK_REASON(ConfigFile::load(dir.path() / "absent.json"), Reason::kNotFound);
  CHECK_REASON(ConfigFile::load(dir.path()), Reason::kIo);
  std::ofstream(dir.path() / "big.json") << "{\"a\":\"" << std::string(2000, 'x') << "\"}";
  ConfigFileOptions small;
  small.max_bytes = 1000;
  CHECK_REASON(ConfigFile::load(dir.path() / "big.json", small), Reason::kTooLarge);
  CHECK_REASON(ConfigFile::parse(std::string(2000, ' '), "/x.json", small), Reason::kTooLarge);
}

TEST_CASE("load: relative paths resolve against the file's directory") {
  TempDir dir;
  std::ofstream(dir.path() / "c.json") << R"({"server": {"cert": "tls/c.pem", "abs": "/a.pem",
                                             "empty": ""}})";
  auto file = ConfigFile::load(dir.path() / "c.json");
  REQUIRE_OK(file);
  std::string cert, abs, empty = "default";
  const auto server = file->root().section("server");
  server.get_path("cert", cert);
  server.get_path("abs", abs);
  server.get_path("empty", empty);
  REQUIRE_OK(file->status());
  CHECK(cert == (dir.path() / "tls/c.pem").string());
  CHECK(abs == "/a.pem");
  CHECK(empty.empty());
}

TEST_CASE("parse: not JSON, not an object, a repeated key, trailing text, too deep") {
  CHECK_REASON(ConfigFile::parse("{", "/c.json"), Reason::kMalformed);
  CHECK_REASON(ConfigFile::parse("", "/c.json"), Reason::kMalformed);
  CHECK_REASON(ConfigFile::parse("[1]", "/c.json"), Reason::kMalformed);
  CHECK_REASON(ConfigFile::parse(R"({"a": 1,})", "/c.json"), Reason::kMalformed);
  CHECK_REASON(ConfigFile::parse(R"({"a": {"b": 1, "b": 2}})", "/c.json"), Reason::kDuplicateKey);
  CHECK_REASON(ConfigFile::parse(R"({} {})", "/c.json"), Reason::kTrailingData);
  ConfigFileOptions shallow;
  shallow.max_depth = 2;
  CHECK_REASON(ConfigFile::parse(R"({"a": {"b": {"c": 1}}})", "/c.json", shallow),
               Reason::kTooDeep);
  ConfigFileOptions last_wins;
  last_wins.reject_duplicate_keys = false;
  auto file = parse_ok(R"({"a": {"b": "1", "b": "2"}})", last_wins);
  std::string b;
  file.root().section("a").get_string("b", b);
  CHECK(b == "2");
  // The same key in two different objects is not a repetition.
  parse_ok(R"({"a": {"k": 1}, "b": {"k": 1}, "k": [{"k": 1}, {"k": 2}]})");
}

TEST_CASE("getters: absent keys and absent sections leave the defaults") {
  auto file = parse_ok(R"({"server": {}})");
  std::string s = "d";
  long long n = 7;
  bool b = true;
  std::vector<std::string> list{"x"};
  const auto server = file.root().section("server");
  CHECK(server.present());
  CHECK_FALSE(file.root().section("storage").present());
  server.get_string("addr", s);
  server.get_integer("n", n, 1);
  server.get_bool("b", b);
  file.root().section("storage").get_string_list("l", list);
  REQUIRE_OK(file.status());
  CHECK(s == "d");
  CHECK(n == 7);
  CHECK(b);
  CHECK(list == std::vector<std::string>{"x"});
}

TEST_CASE("section_list: an array of objects as sections, each named with its index") {
  auto file = parse_ok(R"({"m": [{"group": "cn=a", "team": "o/t"}, {"group": "cn=b"}]})");
  const auto list = file.root().section_list("m");
  REQUIRE(list.size() == 2);
  std::string group, team = "none";
  list[1].get_string("group", group);
  list[1].get_string("team", team);
  CHECK(group == "cn=b");
  CHECK(team == "none");
  CHECK(list[0].name() == "m[0]");
  CHECK(file.root().section_list("absent").empty());
  REQUIRE_OK(file.status());
  list[0].only_keys({"group"});  // an unknown key is named with its index
  CHECK_REASON(file.status(), Reason::kMalformed);
  CHECK(file.status().error().message.find("m[0].team") != std::string::npos);

  auto bad = parse_ok(R"({"m": [{"group": "cn=a"}, "cn=b"]})");
  CHECK(bad.root().section_list("m").empty());
  CHECK_REASON(bad.status(), Reason::kMalformed);
}

TEST_CASE("getters: each type error names the key and keeps the default") {
  auto file = parse_ok(
      R"({"s": {"str": 1, "int": "1", "neg": 0, "big": 300, "float": 1.5, "bool": "yes",
                "list": [1], "notlist": "a", "sec": 3, "size": 0, "u32": 4294967296,
                "sor": true}})");
  const auto s = file.root().section("s");
  Outputs o{"d", 5, 9, 3, false, {}};
  auto& [str, n, size, u32, b, list] = o;
  s.get_string("str", str);
  CHECK_REASON(file.status(), Reason::kMalformed);
  CHECK(file.status().error().message.find("s.str: expected a string") != std::string::npos);
  s.get_integer("int", n, 1);
  s.get_integer("neg", n, 1);
  s.get_integer("big", n, 1, 256);
  s.get_integer("float", n, 0);
  s.get_bool("bool", b);
  s.get_string_list("list", list);
  s.get_string_list("notlist", list);
  (void)s.section("sec");
  s.get_size("size", size);
  s.get_uint32("u32", u32);
  s.get_string_or_integer("sor", str);
  // Sticky: the first error stays; every output kept its default.
  CHECK(file.status().error().message.find("s.str") != std::string::npos);
  CHECK(str == "d");
  CHECK(n == 5);
  CHECK(size == 9);
  CHECK(u32 == 3);
  CHECK_FALSE(b);
  CHECK(list.empty());
}

TEST_CASE("getters: each error path on its own") {
  struct Case {
    const char* json;
    void (*read)(const ConfigSection&);
  };
  static std::string str;
  static long long n;
  static std::size_t size;
  static std::uint32_t u32;
  static bool b;
  static std::vector<std::string> list;
  static std::map<std::string, std::string, std::less<>> smap;
  static std::map<std::string, std::vector<std::string>, std::less<>> lmap;
  const Case cases[] = {
      {R"({"k": 1})", [](const ConfigSection& s) { s.get_string("k", str); }},
      {R"({"k": 1})", [](const ConfigSection& s) { s.get_path("k", str); }},
      {R"({"k": null})", [](const ConfigSection& s) { s.get_string("k", str); }},
      {R"({"k": [1]})", [](const ConfigSection& s) { s.get_string_or_integer("k", str); }},
      {R"({"k": "1"})", [](const ConfigSection& s) { s.get_integer("k", n, 0); }},
      {R"({"k": 1.0})", [](const ConfigSection& s) { s.get_integer("k", n, 0); }},
      {R"({"k": 0})", [](const ConfigSection& s) { s.get_integer("k", n, 1); }},
      {R"({"k": 257})", [](const ConfigSection& s) { s.get_integer("k", n, 1, 256); }},
      {R"({"k": 18446744073709551615})", [](const ConfigSection& s) { s.get_integer("k", n, 0); }},
      {R"({"k": -1})", [](const ConfigSection& s) { s.get_size("k", size); }},
      {R"({"k": 0})", [](const ConfigSection& s) { s.get_size("k", size); }},
      {R"({"k": 11})", [](const ConfigSection& s) { s.get_size("k", size, 10); }},
      {R"({"k": 4294967296})", [](const ConfigSection& s) { s.get_uint32("k", u32); }},
      {R"({"k": 1})", [](const ConfigSection& s) { s.get_bool("k", b); }},
      {R"({"k": {}})", [](const ConfigSection& s) { s.get_string_list("k", list); }},
      {R"({"k": ["a", 1]})", [](const ConfigSection& s) { s.get_string_list("k", list); }},
      {R"({"k": []})", [](const ConfigSection& s) { (void)s.section("k"); }},
      {R"({"k": 1, "x": 2})", [](const ConfigSection& s) { s.only_keys({"k"}); }},
      {R"({"k": []})", [](const ConfigSection& s) { s.get_string_map("k", smap); }},
      {R"({"k": {"a": 1}})", [](const ConfigSection& s) { s.get_string_map("k", smap); }},
      {R"({"k": {"a": "x"}})", [](const ConfigSection& s) { s.get_string_list_map("k", lmap); }},
      {R"({"k": {"a": [1]}})", [](const ConfigSection& s) { s.get_string_list_map("k", lmap); }},
      {R"({"k": 1})", [](const ConfigSection& s) { s.invalid("k", "a file name"); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    auto file = parse_ok(c.json);
    c.read(file.root());
    CHECK_REASON(file.status(), Reason::kMalformed);
  }
}

TEST_CASE("getters: values of every type") {
  auto file = parse_ok(
      R"({"a": {"s": "x", "port": 7899, "sport": "80", "n": -3, "size": 18446744073709551615,
                "u32": 4294967295, "b": false, "l": ["p", "q"], "k": {"d": 1}}})");
  const auto a = file.root().section("a");
  std::string port, sport;
  Outputs o;
  o.b = true;
  auto& [s, n, size, u32, b, l] = o;
  a.get_string("s", s);
  a.get_string_or_integer("port", port);
  a.get_string_or_integer("sport", sport);
  a.get_integer("n", n, -10, 10);
  a.get_size("size", size);
  a.get_uint32("u32", u32);
  a.get_bool("b", b);
  a.get_string_list("l", l);
  a.only_keys({"s", "port", "sport", "n", "size", "u32", "b", "l", "k"});
  REQUIRE_OK(file.status());
  CHECK(s == "x");
  CHECK(port == "7899");
  CHECK(sport == "80");
  CHECK(n == -3);
  CHECK(size == static_cast<std::size_t>(-1));
  CHECK(u32 == 4294967295u);
  CHECK_FALSE(b);
  CHECK(l == std::vector<std::string>{"p", "q"});
  CHECK(a.section("k").name() == "a.k");
  CHECK(a.keys() == std::vector<std::string>{"s", "port", "sport", "n", "size", "u32", "b", "l", "k"});
}

TEST_CASE("maps: keys match exactly, also with case-insensitive keys") {
  ConfigFileOptions viper;
  viper.case_insensitive_keys = true;
  auto file = parse_ok(R"({"Pin": {"ca": {"A/": "a.pem", "a/": "b.pem"},
                                   "certs": {"x": ["1", "2"], "X": []}}})", viper);
  std::map<std::string, std::string, std::less<>> ca;
  std::map<std::string, std::vector<std::string>, std::less<>> certs;
  file.root().section("pin").get_string_map("CA", ca);
  file.root().section("pin").get_string_list_map("certs", certs);
  REQUIRE_OK(file.status());
  CHECK(ca == std::map<std::string, std::string, std::less<>>{{"A/", "a.pem"}, {"a/", "b.pem"}});
  CHECK(certs.at("x") == std::vector<std::string>{"1", "2"});
  CHECK(certs.at("X").empty());
}

TEST_CASE("only_keys: unknown sections and keys are errors, known ones are not") {
  auto file = parse_ok(R"({"server": {"listen": "x"}, "extra": {}})");
  file.root().section("server").only_keys({"listen"});
  REQUIRE_OK(file.status());
  file.root().only_keys({"server"});
  CHECK_REASON(file.status(), Reason::kMalformed);
  CHECK(file.status().error().message.find("unknown section \"extra\"") != std::string::npos);
}

TEST_CASE("get_keys: a table reads each key with the getter its destination's type names") {
  auto file = parse_ok(R"({"a": {"s": "x", "p": "tls/c.pem", "n": -3, "size": 7, "u32": 9,
                                 "b": true, "other": 1}})");
  Outputs o;
  std::string path;
  std::string absent = "default";
  file.root().section("a").get_keys({
      {"s", &o.str},
      ConfigKey::path("p", &path),
      {"n", &o.n, -10, 10},
      {"size", &o.size},
      {"u32", &o.u32},
      {"b", &o.b},
      {"absent", &absent},
  });
  REQUIRE_OK(file.status());  // "other" is no error: get_keys checks only what it reads
  CHECK(o.str == "x");
  CHECK(path == "/etc/vouch/tls/c.pem");
  CHECK(o.n == -3);
  CHECK(o.size == 7);
  CHECK(o.u32 == 9);
  CHECK(o.b);
  CHECK(absent == "default");
}

TEST_CASE("get_keys: a row's bounds and types are checked as its getter checks them") {
  auto file = parse_ok(R"({"a": {"n": 11}})");
  long long n = 5;
  file.root().section("a").get_keys({{"n", &n, -10, 10}});
  CHECK_REASON(file.status(), Reason::kMalformed);
  CHECK(file.status().error().message.find("a.n: expected an integer from -10 to 10") !=
        std::string::npos);
  CHECK(n == 5);

  auto typed = parse_ok(R"({"a": {"size": 0, "b": "yes"}})");
  Outputs o;
  typed.root().section("a").get_keys({{"size", &o.size}, {"b", &o.b}});
  CHECK_REASON(typed.status(), Reason::kMalformed);
  CHECK(typed.status().error().message.find("a.size") != std::string::npos);
}

TEST_CASE("get_only_keys: a key not in the table is an error, before any value is read") {
  auto file = parse_ok(R"({"server": {"listen": 5, "lisen": "x"}})");
  std::string listen = "default";
  file.root().section("server").get_only_keys({{"listen", &listen}});
  CHECK_REASON(file.status(), Reason::kMalformed);
  CHECK(file.status().error().message.find("unknown key \"server.lisen\"") != std::string::npos);

  auto good = parse_ok(R"({"server": {"listen": "x"}})");
  good.root().section("server").get_only_keys({{"listen", &listen}});
  REQUIRE_OK(good.status());
  CHECK(listen == "x");
}

TEST_CASE("case-insensitive keys (Viper): any spelling matches, two spellings are an error") {
  ConfigFileOptions viper;
  viper.case_insensitive_keys = true;
  viper.null_is_absent = true;
  auto file = parse_ok(R"({"Remote": {"skiptlsverify": true, "URL": null}})", viper);
  bool skip = false;
  std::string url = "default";
  const auto remote = file.root().section("remote");
  remote.get_bool("skipTLSVerify", skip);
  remote.get_string("url", url);
  remote.only_keys({"skipTLSVerify", "url"});
  REQUIRE_OK(file.status());
  CHECK(skip);
  CHECK(url == "default");

  auto twice = parse_ok(R"({"url": "a", "URL": "b"})", viper);
  twice.root().get_string("url", url);
  CHECK_REASON(twice.status(), Reason::kMalformed);
}

}  // namespace
}  // namespace vouch
