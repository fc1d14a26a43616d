#!/usr/bin/env bash
# Integration: the `vouch` CLI's passphrase prompts on a real terminal (a tmux pane on a tmux
# server of this test's own), against a real vouch-server:
#   - `init` with a root key already in the trust directory asks for its passphrase once (as
#     notary does), although it both makes the root certificate and signs root with the key;
#   - a prompt during a publish starts on a line of its own, not after the progress bar.
#
#   vouch_cli_tty_test.sh <path to vouch-server> <path to vouch>
#
# The test types a passphrase only once the prompt is on the screen (the prompt discards
# type-ahead). It ends only the tmux server and the vouch-server it started.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary>}
for tool in openssl curl jq setsid tmux; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

ROOT_PASS=tty-test-root-pass
TARGETS_PASS=tty-test-targets-pass
# A snapshot key, if one is made (init --local-snapshot), takes its passphrase from here.
export VOUCH_SNAPSHOT_PASSPHRASE=tty-test-snapshot-pass
unset VOUCH_ROOT_PASSPHRASE VOUCH_TARGETS_PASSPHRASE \
  VOUCH_DELEGATION_PASSPHRASE NOTARY_ROOT_PASSPHRASE NOTARY_TARGETS_PASSPHRASE \
  NOTARY_SNAPSHOT_PASSPHRASE NOTARY_DELEGATION_PASSPHRASE DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE \
  DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE VOUCH_NEW_PASSPHRASE VOUCH_KEY_FORMAT NOTARY_AUTH

# One tmux server per terminal session (tmx <session> <tmux args...>): a session never
# connects to a server that is still shutting down (kill-server returns before the old server
# has gone; a new-session on the same socket then fails with "server exited unexpectedly").
tmx() { local session=$1; shift; tmux -S "$WORK/tmux-$session.sock" "$@"; }
kill_terminals() {
  local sock
  for sock in "$WORK"/tmux-*.sock; do
    [ -S "$sock" ] && { tmux -S "$sock" kill-server 2>/dev/null || true; }
  done
}
# Stop this test's tmux servers (and the commands in their panes) before lib_vouch_server.sh's
# cleanup stops vouch-server and removes $WORK.
trap 'kill_terminals; _vouch_cleanup' EXIT

GUN=example.com/vouch/tty

# on_terminal <name> <vouch args...>: starts vouch in a fresh 250-column pane; its exit code
# goes to $WORK/<name>.rc.
on_terminal() {
  local name=$1; shift
  local cmd
  cmd=$(printf '%q ' "$VOUCH" -d "$WORK/t" -s "$URL" --tlscacert "$WORK/ca.pem" "$@")
  rm -f "$WORK/$name.rc"
  tmx "$name" kill-server 2>/dev/null || true
  tmx "$name" -f /dev/null new-session -d -x 250 -y 50 -s "$name" \
    "$cmd; echo \$? >'$WORK/$name.rc'; sleep 600"
}
screen() { tmx "$1" capture-pane -p -J -t "$1" -S - -E -; }
# wait_for <name> <count> <text>: until <text> is on the screen <count> times, or the command
# has ended (then returns 1). The bound only keeps a hung command from hanging the test.
wait_for() {
  local _
  for _ in $(seq 1 600); do
    [ "$(screen "$1" | grep -cF -- "$3" || true)" -ge "$2" ] && return 0
    [ -f "$WORK/$1.rc" ] && return 1
    sleep 0.1
  done
  fail "$1: neither \"$3\" nor the end of the command appeared: $(screen "$1")"
}
# finish <name>: waits for the command to end; its exit code in $rc, its screen in $out.
finish() {
  local _
  for _ in $(seq 1 600); do
    [ -f "$WORK/$1.rc" ] && break
    sleep 0.1
  done
  [ -f "$WORK/$1.rc" ] || fail "$1 did not end: $(screen "$1")"
  rc=$(cat "$WORK/$1.rc")
  out=$(screen "$1")
  printf '%s\n' "$out" >>"$LOG"
}
type_line() { tmx "$1" send-keys -t "$1" -l -- "$2"; tmx "$1" send-keys -t "$1" Enter; }

step "TLS certificates, vouch-server"
vouch_make_tls
vouch_start

step "a root key in the trust directory (made without a terminal)"
run 0 env VOUCH_ROOT_PASSPHRASE="$ROOT_PASS" setsid -w "$VOUCH" -d "$WORK/t" key generate </dev/null
ROOT_ID=$(sed -n 's/^Generated new ecdsa root key with keyID: \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
[ -n "$ROOT_ID" ] || fail "no key ID in: $out"

step "init with that root key asks for its passphrase once"
on_terminal init init "$GUN" -p
PROMPT="Enter passphrase for root key with ID ${ROOT_ID:0:7}"
wait_for init 1 "$PROMPT" || fail "init never asked for the root passphrase: $(screen init)"
type_line init "$ROOT_PASS"
# The new targets key: a new passphrase, twice.
wait_for init 1 "Enter passphrase for new targets key" ||
  fail "init never asked for the new targets key's passphrase: $(screen init)"
type_line init "$TARGETS_PASS"
wait_for init 1 "Repeat passphrase for new targets key" || fail "no repeat prompt: $(screen init)"
type_line init "$TARGETS_PASS"
# A second root prompt would come now (before the fix it did, while signing root).
if wait_for init 2 "$PROMPT"; then
  type_line init "$ROOT_PASS"
  finish init
  fail "init asked for the root passphrase twice: $out"
fi
finish init
[ "$rc" = 0 ] || fail "init exited $rc: $out"
expect_in "Root key found, using: $ROOT_ID" "$out"
expect_in "Successfully published changes for repository $GUN" "$out"
[ "$(grep -cF -- "$PROMPT" <<<"$out")" = 1 ] || fail "the root prompt count is not 1: $out"

step "a prompt during a publish starts its own line, after the progress bar"
printf 'payload\n' >"$WORK/payload.txt"
on_terminal add add "$GUN" v1 "$WORK/payload.txt" -p
wait_for add 1 "Enter passphrase for targets key" ||
  fail "publish never asked for the targets passphrase: $(screen add)"
prompt_line=$(screen add | grep -F -- "Enter passphrase for targets key" | head -1)
[[ "$prompt_line" == "Enter passphrase for targets key"* ]] ||
  fail "the prompt ran into the progress bar: \"$prompt_line\""
type_line add "$TARGETS_PASS"
finish add
[ "$rc" = 0 ] || fail "add -p exited $rc: $out"
expect_in "Successfully published changes for repository $GUN" "$out"

step "no passphrase was ever shown"
for secret in "$ROOT_PASS" "$TARGETS_PASS"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a passphrase appeared on the terminal"; fi
done

step "stop tmux and vouch-server"
kill_terminals
vouch_stop
echo "PASS"
