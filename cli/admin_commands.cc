// `vouch admin ...` (issue 14): users, organizations and their members, teams, service
// accounts, API tokens, repository grants and visibility, and the audit log of vouch-server's
// accounts, over its admin API (client/admin_api.h). Authenticated by the login `vouch login`
// stored for the server (or NOTARY_AUTH). Every command takes `--output json` (the server's
// answer); tables otherwise. See client/README.md "Accounts".

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>

#include "cli/commands.h"
#include "cli/output.h"
#include "client/admin_api.h"
#include "keys/passphrase.h"

namespace vouch::cli {
namespace {

namespace bj = boost::json;

// Every option of every admin command; only one command runs per process.
struct AdminArgs {
  std::string first;   // the first positional (a name, an org, a GUN, ...)
  std::string second;  // the second positional
  std::string output = "table";
  bool admin = false;
  bool password_stdin = false;
  std::string description;
  std::string owner;
  std::string label = "vouch";
  std::vector<std::string> repositories;
  std::string max_permission = "read-write";
  std::string expires_in;
  std::string user;
  std::string team;
  std::string service_account;
  std::string permission;
  std::uint64_t after = 0;
  std::uint32_t limit = 100;
};

// `v` with the members of every object in key order: tables and --output json show the
// server's answers sorted, whatever order the server wrote them in.
bj::value sorted(const bj::value& v) {
  if (const bj::array* a = v.if_array()) {
    bj::array out;
    out.reserve(a->size());
    for (const auto& e : *a) out.push_back(sorted(e));
    return out;
  }
  const bj::object* o = v.if_object();
  if (o == nullptr) return v;
  std::vector<const bj::key_value_pair*> members;
  for (const auto& m : *o) members.push_back(&m);
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  bj::object out;
  out.reserve(members.size());
  for (const auto* m : members) out.emplace(m->key(), sorted(m->value()));
  return out;
}

std::string scalar_text(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return "";
    case bj::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case bj::kind::int64:
      return std::to_string(v.get_int64());
    case bj::kind::uint64:
      return std::to_string(v.get_uint64());
    case bj::kind::double_:
      return bj::serialize(v);
    case bj::kind::string:
      return std::string(client::json_view(v.get_string()));
    case bj::kind::array: {
      std::string out;
      for (const auto& e : v.get_array()) {
        if (!out.empty()) out += ",";
        out += e.is_object() || e.is_array() ? bj::serialize(e) : scalar_text(e);
      }
      return out;
    }
    case bj::kind::object:
      return bj::serialize(v);
  }
  return "";
}

// An answer as a --output json document.
Json output_json(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return Json();
    case bj::kind::bool_:
      return Json(v.get_bool());
    case bj::kind::int64:
      return Json(v.get_int64());
    case bj::kind::uint64:
    case bj::kind::double_:
      return Json(bj::serialize(v));
    case bj::kind::string:
      return Json(client::json_view(v.get_string()));
    case bj::kind::array: {
      Json out = Json::array();
      for (const auto& e : v.get_array()) out.push(output_json(e));
      return out;
    }
    case bj::kind::object: {
      Json out = Json::object();
      for (const auto& m : v.get_object()) out.set(std::string(m.key()), output_json(m.value()));
      return out;
    }
  }
  return Json();
}

std::string upper(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  return out;
}

// The rows of a list answer: the array itself, or an object's one array member.
const bj::array* rows_of(const bj::value& doc) {
  if (doc.is_array()) return &doc.get_array();
  if (!doc.is_object()) return nullptr;
  const bj::array* found = nullptr;
  for (const auto& m : doc.get_object()) {
    if (!m.value().is_array()) continue;
    if (found != nullptr) return nullptr;  // two lists: show the object
    found = &m.value().get_array();
  }
  return found;
}

// A table of the (sorted) answer: a list as rows (columns: the first row's members), an
// object as one member per line.
std::string render_table(const bj::value& doc) {
  const bj::array* rows = rows_of(doc);
  // A list answer is the list and at most its paging member; anything more is an object.
  if (rows != nullptr && (doc.is_array() || doc.get_object().size() <= 2)) {
    if (rows->empty()) return "No entries found.\n";
    if (!rows->front().is_object()) {
      std::string out;
      for (const auto& r : *rows) out += scalar_text(r) + "\n";
      return out;
    }
    // The naming member first, then the others in key order.
    const bj::object& first_row = rows->front().get_object();
    std::vector<std::string> columns;
    for (const char* first : {"name", "id", "seq"}) {
      if (first_row.contains(first)) columns.emplace_back(first);
    }
    for (const auto& m : first_row) {
      const std::string_view key = m.key();
      // The audit chain's hashes are for `audit verify` and --output json, not for reading.
      if (key == "hash" || key == "prev_hash") continue;
      if (key != "name" && key != "id" && key != "seq") columns.emplace_back(key);
    }
    std::vector<std::string> header;
    for (const auto& c : columns) header.push_back(upper(c));
    Table table(header);
    for (const auto& r : *rows) {
      std::vector<std::string> cells;
      for (const auto& c : columns) {
        const bj::value* v = r.is_object() ? r.get_object().if_contains(c) : nullptr;
        cells.push_back(v == nullptr ? "" : scalar_text(*v));
      }
      table.add_row(std::move(cells));
    }
    return table.render();
  }
  if (!doc.is_object()) return scalar_text(doc) + "\n";
  Table table({"FIELD", "VALUE"});
  for (const auto& m : doc.get_object()) {
    table.add_row({std::string(m.key()), scalar_text(m.value())});
  }
  return table.render();
}

Status print(const bj::value& answer, const AdminArgs& args) {
  const bj::value doc = sorted(answer);
  write_stdout(args.output == "json" ? output_json(doc).dump() + "\n" : render_table(doc));
  return {};
}

// A change: JSON prints the answer, a table run prints `done`.
Status print_done(const bj::value& doc, const AdminArgs& args, const std::string& done) {
  if (args.output == "json") return print(doc, args);
  write_stdout(done + "\n");
  return {};
}

// "org/team" -> {org, team}.
Result<std::pair<std::string, std::string>> split_pair(const std::string& text,
                                                       std::string_view what) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string::npos) {
    return usage_error(std::string(what) + " must be written <owner>/<name>, not \"" + text +
                       "\"");
  }
  return std::make_pair(text.substr(0, slash), text.substr(slash + 1));
}

// --password-stdin: standard input; else typed twice at the terminal, without echo (`what`:
// "new user alice"); neither -> a usage error.
Result<keys::SecretString> new_password(const AdminArgs& args, const std::string& what) {
  if (args.password_stdin) return read_stdin_secret();
  auto typed = keys::prompt_new_password(what);
  if (!typed.ok() && typed.error().reason == Reason::kNoPassphrase &&
      typed.error().code != Code::kCancelled) {
    return usage_error(typed.error().message +
                       ": give the new password on standard input with --password-stdin");
  }
  return typed;
}

// "30d", "30" (days) or "1y" -> days.
Result<std::int64_t> parse_days(const std::string& text) {
  std::string_view digits = text;
  std::int64_t unit = 1;
  if (!digits.empty() && (digits.back() == 'd' || digits.back() == 'y')) {
    unit = digits.back() == 'y' ? 365 : 1;
    digits.remove_suffix(1);
  }
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0 ||
      n > 10000) {
    return usage_error("--expires-in must be a number of days (\"30d\", \"90\") or years "
                       "(\"1y\"), not \"" + text + "\"");
  }
  return n * unit;
}

using Run = std::function<Status(client::AdminClient&, const AdminArgs&)>;

class Registrar {
 public:
  Registrar(Context& ctx, Status& result, std::shared_ptr<AdminArgs> args)
      : ctx_(ctx), result_(result), args_(std::move(args)) {}

  CLI::App* verb(CLI::App* group, const std::string& name, const std::string& help, Run run) {
    CLI::App* cmd = group->add_subcommand(name, help);
    add_output_option(cmd, &args_->output);
    on_run(cmd, ctx_, result_, [this, run = std::move(run)]() -> Status {
      VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx_.admin());
      return run(admin, *args_);
    });
    return cmd;
  }
  AdminArgs& args() { return *args_; }

 private:
  Context& ctx_;
  Status& result_;
  std::shared_ptr<AdminArgs> args_;
};

void add_user_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand("user", "Manages users (system administrators)");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists users",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_users());
           return print(doc, x);
         });
  r.verb(g, "show", "Shows a user",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.get_user(x.first));
           return print(doc, x);
         })
      ->add_option("name", a.first, "User name")->required();
  CLI::App* create = r.verb(g, "create",
                            "Creates a user; the password is asked twice at the terminal, or "
                            "read from stdin",
                            [](client::AdminClient& c, const AdminArgs& x) -> Status {
                              VOUCH_ASSIGN_OR_RETURN(auto password,
                                                     new_password(x, "new user " + x.first));
                              VOUCH_ASSIGN_OR_RETURN(auto doc,
                                                     c.create_user(x.first, password, x.admin));
                              return print_done(doc, x, "Created user " + x.first);
                            });
  create->add_option("name", a.first, "User name")->required();
  create->add_flag("--admin", a.admin, "Make the user a system administrator");
  create->add_flag("--password-stdin", a.password_stdin, "Take the password from stdin");
  for (const bool disable : {true, false}) {
    r.verb(g, disable ? "disable" : "enable",
           disable ? "Disables a user (no login, no token works)" : "Enables a disabled user",
           [disable](client::AdminClient& c, const AdminArgs& x) -> Status {
             client::UserUpdate u;
             u.disabled = disable;
             VOUCH_ASSIGN_OR_RETURN(auto doc, c.update_user(x.first, u));
             return print_done(doc, x, (disable ? "Disabled user " : "Enabled user ") + x.first);
           })
        ->add_option("name", a.first, "User name")->required();
  }
  CLI::App* set_admin = r.verb(
      g, "set-admin", "Makes a user a system administrator (true) or not (false)",
      [](client::AdminClient& c, const AdminArgs& x) -> Status {
        if (x.second != "true" && x.second != "false") {
          return usage_error("set-admin takes true or false, not \"" + x.second + "\"");
        }
        client::UserUpdate u;
        u.admin = x.second == "true";
        VOUCH_ASSIGN_OR_RETURN(auto doc, c.update_user(x.first, u));
        return print_done(doc, x, "User " + x.first + (*u.admin ? " is" : " is not") +
                                      " a system administrator");
      });
  set_admin->add_option("name", a.first, "User name")->required();
  set_admin->add_option("admin", a.second, "true or false")->required();
  CLI::App* passwd = r.verb(g, "passwd",
                            "Sets a user's password (asked twice at the terminal, or read "
                            "from stdin)",
                            [](client::AdminClient& c, const AdminArgs& x) -> Status {
                              client::UserUpdate u;
                              VOUCH_ASSIGN_OR_RETURN(u.password,
                                                     new_password(x, "user " + x.first));
                              VOUCH_ASSIGN_OR_RETURN(auto doc, c.update_user(x.first, u));
                              return print_done(doc, x, "Password of " + x.first + " changed");
                            });
  passwd->add_option("name", a.first, "User name")->required();
  passwd->add_flag("--password-stdin", a.password_stdin, "Take the password from stdin");
  r.verb(g, "delete", "Deletes a user",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.delete_user(x.first));
           return print_done(doc, x, "Deleted user " + x.first);
         })
      ->add_option("name", a.first, "User name")->required();
}

void add_org_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand("org", "Manages organizations (any user may create one)");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists organizations",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_orgs());
           return print(doc, x);
         });
  r.verb(g, "show", "Shows an organization",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.get_org(x.first));
           return print(doc, x);
         })
      ->add_option("org", a.first, "Organization")->required();
  r.verb(g, "create", "Creates an organization; you become its admin",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.create_org(x.first));
           return print_done(doc, x, "Created organization " + x.first);
         })
      ->add_option("org", a.first, "Organization")->required();
  r.verb(g, "delete", "Deletes an organization",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.delete_org(x.first));
           return print_done(doc, x, "Deleted organization " + x.first);
         })
      ->add_option("org", a.first, "Organization")->required();

  CLI::App* m = admin->add_subcommand("member", "Manages the members of an organization");
  m->require_subcommand(1);
  r.verb(m, "list", "Lists an organization's members",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_org_members(x.first));
           return print(doc, x);
         })
      ->add_option("org", a.first, "Organization")->required();
  CLI::App* add = r.verb(m, "add", "Adds a user to an organization (--admin: as its admin)",
                         [](client::AdminClient& c, const AdminArgs& x) -> Status {
                           VOUCH_ASSIGN_OR_RETURN(auto doc,
                                                  c.set_org_member(x.first, x.second, x.admin));
                           return print_done(doc, x,
                                             "Added " + x.second + " to " + x.first +
                                                 (x.admin ? " as an admin" : ""));
                         });
  add->add_option("org", a.first, "Organization")->required();
  add->add_option("user", a.second, "User")->required();
  add->add_flag("--admin", a.admin, "Make the user an admin of the organization");
  CLI::App* remove = r.verb(m, "remove", "Removes a user from an organization",
                            [](client::AdminClient& c, const AdminArgs& x) -> Status {
                              VOUCH_ASSIGN_OR_RETURN(auto doc,
                                                     c.remove_org_member(x.first, x.second));
                              return print_done(doc, x,
                                                "Removed " + x.second + " from " + x.first);
                            });
  remove->add_option("org", a.first, "Organization")->required();
  remove->add_option("user", a.second, "User")->required();
}

void add_team_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand("team", "Manages the teams of an organization");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists an organization's teams",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_teams(x.first));
           return print(doc, x);
         })
      ->add_option("org", a.first, "Organization")->required();
  using TeamRun = std::function<Status(client::AdminClient&, const AdminArgs&,
                                       const std::string& org, const std::string& team)>;
  auto team_verb = [&r, &a, g](const std::string& name, const std::string& help, TeamRun run,
                               const char* member_help) {
    CLI::App* cmd = r.verb(g, name, help,
                           [run](client::AdminClient& c, const AdminArgs& x) -> Status {
                             VOUCH_ASSIGN_OR_RETURN(auto parts, split_pair(x.first, "a team"));
                             return run(c, x, parts.first, parts.second);
                           });
    cmd->add_option("team", a.first, "Team, as <org>/<team>")->required();
    if (member_help != nullptr) cmd->add_option("member", a.second, member_help)->required();
    return cmd;
  };
  team_verb("show", "Shows a team",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.get_team(o, t));
              return print(doc, x);
            },
            nullptr);
  team_verb("create", "Creates a team",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.create_team(o, t, x.description));
              return print_done(doc, x, "Created team " + x.first);
            },
            nullptr)
      ->add_option("--description", a.description, "What the team is for");
  team_verb("delete", "Deletes a team",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.delete_team(o, t));
              return print_done(doc, x, "Deleted team " + x.first);
            },
            nullptr);
  team_verb("members", "Lists a team's members",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_team_members(o, t));
              return print(doc, x);
            },
            nullptr);
  team_verb("add-member", "Adds a user to a team",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.add_team_member(o, t, x.second));
              return print_done(doc, x, "Added " + x.second + " to team " + x.first);
            },
            "User");
  team_verb("remove-member", "Removes a member from a team",
            [](client::AdminClient& c, const AdminArgs& x, const std::string& o,
               const std::string& t) -> Status {
              VOUCH_ASSIGN_OR_RETURN(auto doc, c.remove_team_member(o, t, x.second));
              return print_done(doc, x, "Removed " + x.second + " from team " + x.first);
            },
            "User");
}

void add_service_account_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand(
      "service-account", "Manages service accounts (CI identities; they log in with API tokens)");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists service accounts",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_service_accounts(x.owner));
           return print(doc, x);
         })
      ->add_option("--owner", a.owner, "Only those of this organization or user");
  CLI::App* create =
      r.verb(g, "create", "Creates a service account",
             [](client::AdminClient& c, const AdminArgs& x) -> Status {
               VOUCH_ASSIGN_OR_RETURN(auto parts, split_pair(x.first, "a service account"));
               VOUCH_ASSIGN_OR_RETURN(
                   auto doc, c.create_service_account(parts.first, parts.second, x.description));
               return print_done(doc, x, "Created service account " + x.first);
             });
  create->add_option("account", a.first, "Service account, as <owner>/<name>")->required();
  create->add_option("--description", a.description, "What it is for");
  r.verb(g, "delete", "Deletes a service account and its tokens",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto parts, split_pair(x.first, "a service account"));
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.delete_service_account(parts.first, parts.second));
           return print_done(doc, x, "Deleted service account " + x.first);
         })
      ->add_option("account", a.first, "Service account, as <owner>/<name>")->required();
}

void add_token_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand("token", "Manages API tokens");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists API tokens (never their secrets)",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.list_tokens(x.owner));
           return print(doc, x);
         })
      ->add_option("--owner", a.owner, "A user, or a service account <owner>/<name>");
  CLI::App* create = r.verb(
      g, "create", "Creates an API token; its text is shown once",
      [](client::AdminClient& c, const AdminArgs& x) -> Status {
        client::TokenRequest request;
        request.owner = x.first;
        request.label = x.label;
        if (!x.expires_in.empty()) {
          VOUCH_ASSIGN_OR_RETURN(request.expires_in_days, parse_days(x.expires_in));
        }
        request.repositories = x.repositories;
        request.max_permission = x.max_permission;
        VOUCH_ASSIGN_OR_RETURN(client::CreatedToken created, c.create_token(request));
        if (x.output == "json") {
          Json out = Json::object();
          out.set("id", created.id);
          out.set("token", created.token.view());
          out.set("expires_at", created.expires_at);
          write_stdout(out.dump() + "\n");
          return {};
        }
        std::string text = "Created token " + created.id + " for " + x.first +
                           (created.expires_at.empty() ? "" : ", expires " + created.expires_at) +
                           ". Store it now, it is not shown again:\n";
        write_stdout(text);
        write_stdout(created.token.view());
        write_stdout("\n");
        return {};
      });
  create->add_option("owner", a.first, "A user, or a service account <owner>/<name>")
      ->required();
  create->add_option("--label", a.label, "What the token is for")->capture_default_str();
  create->add_option("--expires-in", a.expires_in,
                     "Lifetime: days (\"30d\") or years (\"1y\"); server default 90 days");
  add_list_option(create, "--repository", a.repositories,
                  "Limit the token to repositories matching these globs");
  create->add_option("--max-permission", a.max_permission,
                     "With --repository: the most the token may do there")
      ->check(CLI::IsMember({"read", "read-write", "admin"}))
      ->capture_default_str();
  r.verb(g, "revoke", "Revokes an API token",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.revoke_token(x.first));
           return print_done(doc, x, "Revoked token " + x.first);
         })
      ->add_option("id", a.first, "Token ID")->required();
}

void add_grant_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* g = admin->add_subcommand(
      "grant", "Manages permissions on a repository or a whole namespace (<namespace>/*)");
  g->require_subcommand(1);
  r.verb(g, "list", "Lists the grants on a repository or namespace (<namespace>/*)",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           const bool ns = x.first.size() > 2 && x.first.compare(x.first.size() - 2, 2, "/*") == 0;
           VOUCH_ASSIGN_OR_RETURN(
               auto doc, ns ? c.list_grants("", x.first.substr(0, x.first.size() - 2))
                            : c.list_grants(x.first, ""));
           return print(doc, x);
         })
      ->add_option("target", a.first, "Repository (GUN) or <namespace>/*")->required();
  for (const bool set : {true, false}) {
    CLI::App* cmd = r.verb(
        g, set ? "set" : "remove",
        set ? "Grants a user, team or service account a permission" : "Removes a grant",
        [set](client::AdminClient& c, const AdminArgs& x) -> Status {
          client::GrantRequest grant;
          grant.target = x.first;
          const int given = !x.user.empty() + !x.team.empty() + !x.service_account.empty();
          if (given != 1) {
            return usage_error("name exactly one of --user, --team, --service-account");
          }
          if (!x.user.empty()) grant = {x.first, "user", x.user, ""};
          if (!x.team.empty()) grant = {x.first, "team", x.team, ""};
          if (!x.service_account.empty()) {
            grant = {x.first, "service_account", x.service_account, ""};
          }
          if (set && x.permission.empty()) return usage_error("--permission is required");
          grant.permission = set ? x.permission : "none";
          VOUCH_ASSIGN_OR_RETURN(auto doc, c.set_grant(grant));
          return print_done(doc, x,
                            set ? "Granted " + grant.permission + " on " + x.first + " to " +
                                      grant.grantee_kind + " " + grant.grantee
                                : "Removed the grant on " + x.first + " to " +
                                      grant.grantee_kind + " " + grant.grantee);
        });
    cmd->add_option("target", a.first, "Repository (GUN) or <namespace>/*")->required();
    cmd->add_option("--user", a.user, "User");
    cmd->add_option("--team", a.team, "Team, as <org>/<team>");
    cmd->add_option("--service-account", a.service_account,
                    "Service account, as <owner>/<name>");
    if (set) {
      cmd->add_option("--permission", a.permission, "read, read-write or admin")
          ->check(CLI::IsMember({"read", "read-write", "admin"}));
    }
  }
}

void add_visibility_and_audit_commands(CLI::App* admin, Registrar& r) {
  AdminArgs& a = r.args();
  CLI::App* v = admin->add_subcommand("visibility", "Shows or sets a repository's visibility");
  v->require_subcommand(1);
  r.verb(v, "show", "Shows a repository's namespace, visibility and grants",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.get_repository(x.first));
           return print(doc, x);
         })
      ->add_option("gun", a.first, "Repository (GUN)")->required();
  CLI::App* set = r.verb(v, "set", "Makes a repository public (anyone may read) or private",
                         [](client::AdminClient& c, const AdminArgs& x) -> Status {
                           VOUCH_ASSIGN_OR_RETURN(auto doc, c.set_visibility(x.first, x.second));
                           return print_done(doc, x, x.first + " is " + x.second);
                         });
  set->add_option("gun", a.first, "Repository (GUN)")->required();
  set->add_option("visibility", a.second, "public or private")
      ->required()
      ->check(CLI::IsMember({"public", "private"}));

  CLI::App* g = admin->add_subcommand("audit", "Reads and verifies the audit log (system admins)");
  g->require_subcommand(1);
  CLI::App* list = r.verb(g, "list", "Lists audit records after a sequence number",
                          [](client::AdminClient& c, const AdminArgs& x) -> Status {
                            VOUCH_ASSIGN_OR_RETURN(auto doc, c.audit(x.after, x.limit));
                            return print(doc, x);
                          });
  list->add_option("--after", a.after, "Records after this sequence number")
      ->capture_default_str();
  list->add_option("--limit", a.limit, "At most this many records")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  r.verb(g, "verify", "Checks the audit log's hash chain at the server",
         [](client::AdminClient& c, const AdminArgs& x) -> Status {
           VOUCH_ASSIGN_OR_RETURN(auto doc, c.verify_audit());
           VOUCH_RETURN_IF_ERROR(print(doc, x));
           const bj::value* ok = doc.is_object() ? doc.get_object().if_contains("ok") : nullptr;
           if (ok == nullptr || !ok->is_bool() || !ok->get_bool()) {
             return make_error(Code::kDataLoss, Reason::kHashMismatch,
                               "the audit log's hash chain is broken");
           }
           return {};
         });
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx, Status& result) {
  // Kept alive by the callbacks (CLI11 holds them for the app's lifetime).
  static std::unique_ptr<Registrar> registrar;
  registrar = std::make_unique<Registrar>(ctx, result, std::make_shared<AdminArgs>());
  CLI::App* admin = app.add_subcommand(
      "admin",
      "Administers the accounts of a vouch-server: users, organizations, members, teams, "
      "service accounts, API tokens, grants, visibility, audit (log in first: vouch login)");
  admin->require_subcommand(1);
  registrar->verb(admin, "whoami", "Shows who you are logged in as",
                  [](client::AdminClient& c, const AdminArgs& x) -> Status {
                    VOUCH_ASSIGN_OR_RETURN(auto doc, c.me());
                    return print(doc, x);
                  });
  add_user_commands(admin, *registrar);
  add_org_commands(admin, *registrar);
  add_team_commands(admin, *registrar);
  add_service_account_commands(admin, *registrar);
  add_token_commands(admin, *registrar);
  add_grant_commands(admin, *registrar);
  add_visibility_and_audit_commands(admin, *registrar);
  add_roster_commands(*admin, ctx, result);
}

}  // namespace vouch::cli
