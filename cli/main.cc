// vouch: the command line client for people and CI (issue 5). notary 0.7's commands, flags,
// texts and config.json, plus `sign`, `inspect`, `--output json`, stable exit codes
// (cli/output.h) and passphrases for CI (cli/context.h). See client/README.md.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli/output.h"

namespace vouch::cli {

void on_run(CLI::App* command, Context& ctx, Status& result, std::function<Status()> fn) {
  command->callback([&ctx, &result, fn = std::move(fn)] {
    init_logging(ctx.options().debug, ctx.options().verbose);
    result = fn();
  });
}

void add_output_option(CLI::App* command, std::string* format) {
  command->add_option("--output", *format, "Output format: table (notary's) or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

namespace {

int run(int argc, char** argv) {
  GlobalOptions globals;
  Context ctx(globals);
  Status result;

  CLI::App app{
      "vouch: content trust for container images. Creates and manages collections of signed "
      "targets on a Notary-compatible trust server, signs tags, and verifies content.",
      "vouch"};
  app.fallthrough();
  app.add_option("-c,--configFile", globals.flags.config_file,
                 "Path to the configuration file to use");
  app.add_option("-d,--trustDir", globals.flags.trust_dir,
                 "Directory where the trust data is persisted to");
  app.add_option("-s,--server", globals.flags.server, "Remote trust server location");
  app.add_option("--tlscacert", globals.flags.tls_ca_cert, "Trust certs signed only by this CA");
  app.add_option("--tlscert", globals.flags.tls_cert, "Path to TLS certificate file");
  app.add_option("--tlskey", globals.flags.tls_key, "Path to TLS key file");
  app.add_flag("-D,--debug", globals.debug, "Debug output");
  app.add_flag("-v,--verbose", globals.verbose, "Verbose output");
  app.add_option("--passphrase-file", globals.passphrase_file,
                 "File holding the passphrase for every key (mode 0600); else the "
                 "VOUCH_*_PASSPHRASE variables, else the terminal");
  app.add_option("--key-format", globals.key_format,
                 "Format of key files vouch writes: vouch (default; the notary CLI skips them) "
                 "or notary (readable by the notary CLI); also $VOUCH_KEY_FORMAT")
      ->check(CLI::IsMember({"vouch", "notary"}));

  app.footer(kExitCodesHelp);

  add_tuf_commands(app, ctx, result);
  add_key_commands(app, ctx, result);
  add_delegation_commands(app, ctx, result);
  add_trust_commands(app, ctx, result);
  add_verify_image_command(app, ctx, result);
  add_login_commands(app, ctx, result);
  add_admin_commands(app, ctx, result);
  CLI::App* version = app.add_subcommand("version", "Print the version number of vouch");
  version->callback([] { write_stdout("vouch\n Version:    " VOUCH_VERSION "\n"); });
  app.set_version_flag("--version", "vouch " VOUCH_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return kExitOk;
  }
  if (!result.ok()) {
    const Error& error = result.error();
    std::fprintf(stderr, "* fatal: %s\n", error.message.c_str());
    return ctx.exit_code(error);
  }
  return ctx.quiet_exit_code();
}

}  // namespace
}  // namespace vouch::cli

int main(int argc, char** argv) {
  // Botan's locked-memory pool (for secure_vector: keys, passphrases) is 512 KiB by default,
  // set up on first use as 128 separately mapped, locked, guarded pages: ~560 mprotect and
  // 130 munmap calls, 25 ms of a 95 ms `publish` (measured with perf stat). One command holds
  // a few keys and passphrases, a few KiB; 64 KiB (16 pages) keeps them all in locked memory.
  // The user's own setting wins.
  ::setenv("BOTAN_MLOCK_POOL_SIZE", "64", /*overwrite=*/0);
  try {
    return vouch::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "* fatal: internal error: %s\n", e.what());
    return vouch::cli::kExitUsage;
  }
}
