// `vouch admin roster publish|show|diff|verify <org>` (issue 15): an organization's signed team
// roster (tuf/roster.h), the TUF repository "<host>/_roster/<org>" of the trust server.
//
//  publish  reads the org's teams, their members and each member's registered keys through the
//           admin API, shows what changed since the last signed roster, and publishes the new
//           one: targets signed with the roster key of this trust directory. On first publish
//           the repository is initialized as `vouch init` does (root and targets keys held
//           here, snapshot and timestamp by the server).
//  show     the current signed roster, verified (TUF update over the trust server).
//  diff     what publish would change, without publishing.
//  verify   verifies the signed roster and says whether the server's accounts have changed
//           since (exit code 1 and the difference when they have).
// The host part of the GUN is the configured server's host[:port] unless --gun names one.

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "client/member_keys.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "common/log.h"
#include "keys/pem.h"
#include "tuf/roster.h"

namespace vouch::cli {
namespace {

namespace json = tuf::json;

struct RosterArgs {
  std::string org;
  std::string gun;  // --gun: the roster repository, if not "<server host>/_roster/<org>"
  std::string output = "table";
  bool yes = false;
};

// "<host>/_roster/<org>" for the configured server, or --gun.
Result<std::string> roster_gun(Context& ctx, const RosterArgs& a) {
  if (!a.gun.empty()) {
    if (tuf::roster_gun_org(a.gun) != a.org) {
      return usage_error("--gun " + a.gun + " is not a roster repository of " + a.org +
                         " (<host>/_roster/" + a.org + ")");
    }
    return a.gun;
  }
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, ctx.config());
  VOUCH_ASSIGN_OR_RETURN(std::string origin, client::url_origin(cfg->remote_server.url));
  const auto scheme_end = origin.find("://");
  std::string host = scheme_end == std::string::npos ? origin : origin.substr(scheme_end + 3);
  return host + "/" + std::string(tuf::kRosterGunComponent) + "/" + a.org;
}

// The rows of a paged list answer ({"<name>": [...], "next_after": ...}) of the admin API.
Result<const boost::json::array*> list_of(const boost::json::value& answer,
                                          std::string_view name) {
  const boost::json::object* o = answer.if_object();
  const boost::json::value* v = o == nullptr ? nullptr : o->if_contains(name);
  if (v == nullptr || !v->is_array()) {
    return make_error(Reason::kMalformed, "the server's answer has no \"" + std::string(name) +
                                              "\" list");
  }
  return &v->get_array();
}

// The roster the server's accounts describe now, dated `now`.
Result<tuf::Roster> roster_from_accounts(client::AdminClient& admin, const std::string& org,
                                         TimePoint now) {
  VOUCH_ASSIGN_OR_RETURN(boost::json::value teams_answer, admin.list_teams(org));
  VOUCH_ASSIGN_OR_RETURN(const boost::json::array* teams, list_of(teams_answer, "teams"));
  std::vector<std::string> team_names;
  for (const auto& t : *teams) {
    const boost::json::object* team = t.if_object();
    const boost::json::value* name_value = team == nullptr ? nullptr : team->if_contains("name");
    if (name_value == nullptr || !name_value->is_string()) {
      return make_error(Reason::kMalformed, "the server's team list has a team without a name");
    }
    team_names.emplace_back(name_value->get_string());
  }
  auto members_of = [&](const std::string& team_name) -> Result<std::vector<std::string>> {
    VOUCH_ASSIGN_OR_RETURN(boost::json::value members_answer,
                           admin.list_team_members(org, team_name));
    VOUCH_ASSIGN_OR_RETURN(const boost::json::array* members,
                           list_of(members_answer, "members"));
    std::vector<std::string> names;
    for (const auto& m : *members) {
      if (!m.is_string()) return make_error(Reason::kMalformed, "a team member is not a name");
      names.emplace_back(m.get_string());
    }
    return names;
  };
  auto keys_of = [&](const std::string& member) -> Result<std::vector<keys::PublicKey>> {
    VOUCH_ASSIGN_OR_RETURN(auto registered, client::list_registered_keys(admin, member));
    std::vector<keys::PublicKey> out;
    for (const auto& k : registered) {
      if (!k.expires.empty()) {
        auto expires = parse_rfc3339(k.expires);
        if (expires.ok() && *expires < now) {
          log::get("cli")->warn("{}: certificate {} expired on {}; left out of the roster",
                                member, k.key_id, k.expires);
          continue;
        }
      }
      // The roster carries keys in TUF's form (tuf/roster.h), not as registered PEM.
      auto key = keys::parse_public_key_pem(k.public_key);
      if (!key.ok()) return key.error().wrap(member + ": registered key " + k.key_id);
      out.push_back(std::move(*key));
    }
    return out;
  };
  auto roster = tuf::roster_from_listing(
      org, format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(now)), team_names,
      members_of, keys_of);
  if (!roster.ok()) return roster.error().wrap("the accounts of " + org + " make no valid roster");
  return roster;
}

// The signed roster the trust server has, verified; nullopt when the repository does not exist.
Result<std::optional<tuf::Roster>> signed_roster(client::Repository& repo, const std::string& org,
                                                 std::int64_t* version) {
  auto trusted = repo.update();
  if (!trusted.ok()) {
    if (trusted.error().code == Code::kNotFound) return std::optional<tuf::Roster>();
    return trusted.error();
  }
  const tuf::TrustedTargets* targets = trusted->targets();
  if (targets == nullptr) return make_error(Reason::kInternal, "no targets after an update");
  if (version != nullptr) *version = targets->metadata.content.version;
  auto roster = tuf::roster_from_targets(targets->metadata.content, org);
  if (!roster.ok()) return roster.error().wrap(repo.gun());
  return std::optional<tuf::Roster>(std::move(*roster));
}

std::string render_roster(const tuf::Roster& roster, std::int64_t version) {
  std::string out = "roster of " + roster.org + ", version " + std::to_string(version) +
                    ", generated " + roster.generated_at.text + "\n";
  Table table({"TEAM", "MEMBER", "KIND", "KEY ID", "KEY TYPE"});
  for (const auto& t : roster.teams) {
    if (t.members.empty()) table.add_row({t.name, "", "", "", ""});
    for (const auto& m : t.members) {
      if (m.keys.empty()) table.add_row({t.name, m.name, std::string(to_string(m.kind)), "", ""});
      for (const auto& k : m.keys) {
        table.add_row({t.name, m.name, std::string(to_string(m.kind)), k.key.id(),
                       std::string(keys::to_string(k.key.type()))});
      }
    }
  }
  return out + table.render();
}

std::string render_diff(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

Status run_show(Context& ctx, const RosterArgs& a) {
  VOUCH_ASSIGN_OR_RETURN(std::string gun, roster_gun(ctx, a));
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, true));
  std::int64_t version = 0;
  VOUCH_ASSIGN_OR_RETURN(auto roster, signed_roster(repo, a.org, &version));
  if (!roster) return make_error(Reason::kNotFound, "no signed roster at " + gun);
  if (a.output == "json") {
    write_stdout(to_output_json(tuf::to_json(*roster)).dump() + "\n");
    return {};
  }
  write_stdout(render_roster(*roster, version));
  return {};
}

// diff and verify: the signed roster against the accounts. Returns the difference.
Result<std::vector<std::string>> compare(Context& ctx, const RosterArgs& a, bool print_ok) {
  VOUCH_ASSIGN_OR_RETURN(std::string gun, roster_gun(ctx, a));
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, true));
  std::int64_t version = 0;
  VOUCH_ASSIGN_OR_RETURN(auto signed_now, signed_roster(repo, a.org, &version));
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  VOUCH_ASSIGN_OR_RETURN(tuf::Roster current,
                         roster_from_accounts(admin, a.org, SystemClock::instance().now()));
  auto lines = tuf::diff_rosters(signed_now ? &*signed_now : nullptr, current);
  if (print_ok && signed_now) {
    write_stdout("roster " + gun + " version " + std::to_string(version) +
                 " verifies (signed by the org's roster key, fresh timestamp)\n");
  }
  return lines;
}

Status run_diff(Context& ctx, const RosterArgs& a) {
  VOUCH_ASSIGN_OR_RETURN(auto lines, compare(ctx, a, false));
  write_stdout(lines.empty() ? "The signed roster is up to date.\n" : render_diff(lines));
  return {};
}

Status run_verify(Context& ctx, const RosterArgs& a) {
  VOUCH_ASSIGN_OR_RETURN(auto lines, compare(ctx, a, true));
  if (lines.empty()) {
    write_stdout("The signed roster is up to date.\n");
    return {};
  }
  write_stdout("The accounts changed since the signed roster:\n" + render_diff(lines));
  return make_error(Code::kFailedPrecondition, Reason::kBadVersion,
                    "roster out of date: run vouch admin roster publish " + a.org);
}

Status run_publish(Context& ctx, const RosterArgs& a) {
  VOUCH_ASSIGN_OR_RETURN(std::string gun, roster_gun(ctx, a));
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  VOUCH_ASSIGN_OR_RETURN(tuf::Roster current,
                         roster_from_accounts(admin, a.org, SystemClock::instance().now()));
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, true));
  VOUCH_ASSIGN_OR_RETURN(auto signed_now, signed_roster(repo, a.org, nullptr));
  const auto lines = tuf::diff_rosters(signed_now ? &*signed_now : nullptr, current);
  if (signed_now && lines.empty()) {
    write_stdout("The signed roster of " + a.org + " is up to date; nothing to publish.\n");
    return {};
  }
  write_stdout(render_diff(lines));
  if (!ctx.confirm("Sign and publish this roster for " + a.org + "? (y/N)", a.yes)) {
    return make_error(Code::kCancelled, Reason::kNone, "not published");
  }
  if (!signed_now) {
    // First publish: a new repository, root and targets keys here, snapshot and timestamp
    // on the server (as `vouch init`). The root key is the trust directory's, if it has one.
    client::InitOptions options;
    options.server_managed_snapshot = true;
    VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
    VOUCH_ASSIGN_OR_RETURN(keys::KeyListing listing, store->list());
    for (const auto& entry : listing.keys) {
      if (entry.role == tuf::kRootRole) {
        options.root_key_ids.push_back(entry.key_id);
        break;
      }
    }
    auto initialized = repo.initialize(options);
    if (!initialized.ok()) return initialized.error().wrap("initializing " + gun);
  }
  tuf::FileMeta meta = tuf::roster_target_meta(current);
  auto change = client::add_target_change(tuf::kTargetsRole, tuf::kRosterTarget, meta);
  if (!change.ok()) return change.error();
  VOUCH_RETURN_IF_ERROR(repo.changelist().add(*change));
  return ctx.publish(repo);
}

}  // namespace

void add_roster_commands(CLI::App& admin, Context& ctx, Status& result) {
  static RosterArgs args;
  CLI::App* roster = admin.add_subcommand(
      "roster", "Signed team rosters: publish, show, diff, verify an organization's roster");
  roster->require_subcommand(1);
  struct Verb {
    const char* name;
    const char* help;
    Status (*run)(Context&, const RosterArgs&);
  };
  for (const Verb& v : {
           Verb{"publish",
                "Signs and publishes the roster of <org> from its teams, members and "
                "registered keys (shows the difference first)",
                run_publish},
           Verb{"show", "Shows the signed roster of <org>", run_show},
           Verb{"diff", "Shows what changed in the accounts since the signed roster", run_diff},
           Verb{"verify",
                "Verifies the signed roster of <org>; fails when the accounts changed since",
                run_verify},
       }) {
    CLI::App* c = roster->add_subcommand(v.name, v.help);
    c->add_option("org", args.org, "The organization")->required();
    c->add_option("--gun", args.gun,
                  "The roster repository (default <server host>/_roster/<org>)");
    if (std::string_view(v.name) == "publish") {
      c->add_flag("-y,--yes", args.yes, "Publish without asking");
    }
    if (std::string_view(v.name) == "show") add_output_option(c, &args.output);
    auto run = v.run;
    on_run(c, ctx, result, [&ctx, run] { return run(ctx, args); });
  }
}

}  // namespace vouch::cli
