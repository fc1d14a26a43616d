// The `vouch` CLI's `--output json` documents (cli/output.h Json): laid out as Go's
// json.MarshalIndent (plus a final newline), which the JSON output of `list`, `key list`,
// `delegation list` and `inspect` promises.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "cli/output.h"

using vouch::cli::Json;

TEST_CASE("Json: empty containers are [] and {}, members one per line, nested indented") {
  CHECK(Json::array().dump() == "[]\n");
  CHECK(Json::object().dump() == "{}\n");

  Json inner = Json::array();
  inner.push("a").push(std::int64_t{2}).push(Json::object());
  Json doc = Json::object();
  doc.set("name", "x\"y\n").set("list", std::move(inner)).set("empty", Json::array())
      .set("ok", true).set("none", nullptr);
  CHECK(doc.dump("  ") ==
        "{\n"
        "  \"name\": \"x\\\"y\\n\",\n"
        "  \"list\": [\n"
        "    \"a\",\n"
        "    2,\n"
        "    {}\n"
        "  ],\n"
        "  \"empty\": [],\n"
        "  \"ok\": true,\n"
        "  \"none\": null\n"
        "}\n");
}

TEST_CASE("Json: an array of objects keeps member order") {
  Json row = Json::object();
  row.set("z", std::int64_t{1}).set("a", std::int64_t{2});
  Json doc = Json::array();
  doc.push(std::move(row));
  CHECK(doc.dump("\t") == "[\n\t{\n\t\t\"z\": 1,\n\t\t\"a\": 2\n\t}\n]\n");
}
