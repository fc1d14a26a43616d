# shellcheck shell=bash
# A real PostgreSQL server for shell tests: the shell side of tests/support/postgres.h (same
# layout and rules; read that header for the why). Source it, then:
#
#   pg_test_start [fast|durable]
#                 initdb into a new /tmp/vouch-pg-XXXXXX, start on a free loopback port with
#                 the unix socket in that directory, create the database "vouch"; sets
#                 PG_DIR, PG_PORT, PG_USER, PG_PASSWORD_FILE (the superuser's password, which
#                 TCP logins need) and PG_DSN (host, port, user, dbname; no password). When
#                 run as root, the server runs as the user postgres (runuser). Returns 1 with
#                 a message (never skips) when PostgreSQL is missing or does not start.
#   pg_test_sql <sql>      psql over the unix socket as the superuser; prints the rows
#   pg_test_down / pg_test_up
#                          stops the server (fast shutdown) / starts it again on the same port
#                          and data, for tests of what clients do while it is down
#   pg_test_stop           stops the server it started (pg_ctl on its data directory) and
#                          removes PG_DIR; safe to call twice. Call it from your EXIT trap.

PG_DIR= PG_PORT= PG_USER=vouch_test PG_PASSWORD_FILE= PG_DSN= _PG_BIN= _PG_AS=() _PG_OPTS=

_pg_bindir() {
  if [ -n "${VOUCH_PG_BINDIR:-}" ]; then echo "$VOUCH_PG_BINDIR"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

pg_test_start() {
  local mode=${1:-fast} opts
  _PG_BIN=$(_pg_bindir) || true
  if [ -z "$_PG_BIN" ]; then
    echo "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): install" \
      "the Debian package postgresql (scripts/install-deps.sh)" >&2
    return 1
  fi
  PG_DIR=$(mktemp -d /tmp/vouch-pg-XXXXXX)
  PG_PASSWORD_FILE=$PG_DIR/password
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$PG_PASSWORD_FILE"
  _PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "running as root and there is no user postgres" >&2; return 1; }
    chown postgres: "$PG_DIR" "$PG_PASSWORD_FILE"
    _PG_AS=(runuser -u postgres --)
  fi
  local sync=(--no-sync)
  [ "$mode" = durable ] && sync=()
  if ! "${_PG_AS[@]}" "$_PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$PG_PASSWORD_FILE" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C "${sync[@]}" \
      >"$PG_DIR/initdb.log" 2>&1; then
    echo "initdb failed: $(tail -5 "$PG_DIR/initdb.log")" >&2
    return 1
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1"
    [ "$mode" = durable ] || opts="$opts -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    _PG_OPTS=$opts
    if "${_PG_AS[@]}" "$_PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "$opts" start >"$PG_DIR/pg_ctl.log" 2>&1; then
      PG_DSN="host=127.0.0.1 port=$PG_PORT user=$PG_USER dbname=vouch sslmode=disable"
      pg_test_sql "CREATE DATABASE vouch" postgres >/dev/null || return 1
      return 0
    fi
    echo "pg_ctl start (attempt $attempt) failed: $(tail -3 "$PG_DIR/server.log")" >&2
  done
  return 1
}

pg_test_sql() {  # pg_test_sql <sql> [database]
  "$_PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d "${2:-vouch}" -X -q -A -t \
    -v ON_ERROR_STOP=1 -c "$1"
}

pg_test_down() {
  "${_PG_AS[@]}" "$_PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >"$PG_DIR/pg_ctl.log" 2>&1
}

pg_test_up() {
  "${_PG_AS[@]}" "$_PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "$_PG_OPTS" start >"$PG_DIR/pg_ctl.log" 2>&1
}

pg_test_stop() {
  [ -n "$PG_DIR" ] || return 0
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    "${_PG_AS[@]}" "$_PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  PG_DIR=
}
