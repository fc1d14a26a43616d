#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal and answers its prompts, for tests of interactive
password prompts (the notary CLI's username/password prompt, `vouch admin user create`).

    pty_run.py [--transcript FILE] EXPECT ANSWER [EXPECT ANSWER ...] -- COMMAND [ARG ...]

COMMAND runs in a new session with the terminal as its stdin, stdout, stderr and controlling
terminal (so /dev/tty is that terminal too). For each pair in order: wait until the text
EXPECT has appeared in what COMMAND wrote since the previous match, then type ANSWER and
Enter. An ANSWER written "noecho:SECRET" is typed only once the terminal's echo is off (the
program is reading a password), so a program that reads a password with echo on is caught by
its transcript, not hidden by a race. After the last pair, everything COMMAND writes is read
until it exits.

Prints everything COMMAND wrote (as the terminal shows it, echoed input included) on stdout,
also to --transcript FILE, and exits with COMMAND's exit status (128 + N if a signal N ended
it). If COMMAND exits or goes quiet for 120 s before an EXPECT appears (a bound against a hung
test, not a performance check), it prints "pty_run: never saw ..." on stderr, kills COMMAND
(only the process it started) and exits 124.
"""

import os
import pty
import select
import signal
import sys
import termios
import time

QUIET_LIMIT_S = 120


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main(argv):
    transcript_path = None
    if argv[:1] == ["--transcript"]:
        if len(argv) < 2:
            usage()
        transcript_path = argv[1]
        argv = argv[2:]
    if "--" not in argv:
        usage()
    split = argv.index("--")
    pairs, command = argv[:split], argv[split + 1:]
    if len(pairs) % 2 != 0 or not command:
        usage()

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    seen = bytearray()  # all output, for the transcript
    pending = bytearray()  # output since the last match

    def read_some(timeout):
        """Reads what is there within timeout; False at end of output (the command exited)."""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            return False
        if not data:
            return False
        seen.extend(data)
        pending.extend(data)
        return True

    def finish(status):
        text = bytes(seen).decode("utf-8", "replace")
        sys.stdout.write(text)
        sys.stdout.flush()
        if transcript_path:
            with open(transcript_path, "w", encoding="utf-8") as out:
                out.write(text)
        sys.exit(status)

    def give_up(what):
        sys.stderr.write("pty_run: never saw %r\n" % what)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        finish(124)

    for i in range(0, len(pairs), 2):
        expect, answer = pairs[i].encode(), pairs[i + 1]
        last_output = time.monotonic()
        while expect not in pending:
            before = len(seen)
            if not read_some(1.0):
                give_up(pairs[i])
            if len(seen) != before:
                last_output = time.monotonic()
            elif time.monotonic() - last_output > QUIET_LIMIT_S:
                give_up(pairs[i])
        del pending[: pending.index(expect) + len(expect)]
        if answer.startswith("noecho:"):
            answer = answer[len("noecho:"):]
            waited = time.monotonic()
            # The master side reports the terminal's modes (Linux: the same termios).
            while termios.tcgetattr(fd)[3] & termios.ECHO:
                if time.monotonic() - waited > QUIET_LIMIT_S:
                    give_up("echo off before " + pairs[i])
                read_some(0.01)
        os.write(fd, answer.encode() + b"\n")

    last_output = time.monotonic()
    while True:
        before = len(seen)
        if not read_some(1.0):
            break
        if len(seen) != before:
            last_output = time.monotonic()
        elif time.monotonic() - last_output > QUIET_LIMIT_S:
            give_up("the end of the command's output")
    _, status = os.waitpid(pid, 0)
    finish(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main(sys.argv[1:])
