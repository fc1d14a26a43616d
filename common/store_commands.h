#pragma once

// The store maintenance subcommands that vouch-server and vouch-signer share, so that both
// spell them alike:
//   backup <dir>    copy the RocksDB database into a new directory, also while serving
//   restore <dir>   restore a backup into an empty --db-path
//   migrate         create or upgrade the PostgreSQL schema and exit
// Each accepts the daemon's own options (--db-path, --config, ...) after it. Header-only, for
// the daemons' main.cc (which link CLI11); not for other code.

#include <CLI/CLI.hpp>
#include <string>

namespace vouch {

struct StoreCommands {
  CLI::App* backup = nullptr;
  CLI::App* restore = nullptr;
  CLI::App* migrate = nullptr;
  std::string backup_dir;   // backup's <dir>
  std::string restore_dir;  // restore's <dir>
};

// Adds the three subcommands to `app`, with `backup_help` and `restore_help` as what backup and
// restore do in this daemon. `cmds` receives the parsed directories, so it must stay where it is
// until `app` has parsed.
inline void add_store_commands(CLI::App& app, StoreCommands& cmds, const std::string& backup_help,
                               const std::string& restore_help) {
  cmds.backup = app.add_subcommand("backup", backup_help);
  cmds.backup->add_option("dir", cmds.backup_dir, "backup directory (new or empty)")->required();
  cmds.restore = app.add_subcommand("restore", restore_help);
  cmds.restore->add_option("dir", cmds.restore_dir, "a directory written by backup")->required();
  cmds.migrate = app.add_subcommand(
      "migrate", "create or upgrade the PostgreSQL schema (storage.backend postgres) and exit");
  cmds.backup->fallthrough();
  cmds.restore->fallthrough();
  cmds.migrate->fallthrough();
}

}  // namespace vouch
