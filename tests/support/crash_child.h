#pragma once

// Crash tests of the durable stores (metadata store, accounts store, audit log): the test
// binary starts itself again as a writer child (selected by an environment variable), reads the
// decimal acknowledgements the child prints on stdout after each durable write, and kills it
// with SIGKILL wherever it is. The caller then reopens the store and checks that every
// acknowledged write is there.

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

extern char** environ;

namespace vouch::test {

struct CrashRun {
  unsigned long long first_ack = 0;  // the first acknowledgement read (0: none)
  unsigned long long last_ack = 0;   // the last one, including those written before the kill
  bool killed_by_signal = false;
};

// Runs /proc/self/exe with `env_var`=`value` added to the environment and kills it with
// SIGKILL once it has acknowledged `acks` writes (counted from its first acknowledgement).
inline CrashRun run_and_kill_child(const std::string& env_var, const std::string& value,
                                   unsigned long long acks) {
  CrashRun run;
  int out[2];
  REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(env_var + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<char*> argv{exe.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  REQUIRE(rc == 0);

  std::FILE* stream = ::fdopen(out[0], "r");
  REQUIRE(stream != nullptr);
  unsigned long long ack = 0;
  while ((run.first_ack == 0 || run.last_ack - run.first_ack + 1 < acks) &&
         std::fscanf(stream, "%llu", &ack) == 1) {
    if (run.first_ack == 0) run.first_ack = ack;
    run.last_ack = ack;
  }
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  // Acknowledgements written before the kill still count.
  while (std::fscanf(stream, "%llu", &ack) == 1) run.last_ack = ack;
  std::fclose(stream);
  run.killed_by_signal = WIFSIGNALED(status);
  return run;
}

}  // namespace vouch::test
