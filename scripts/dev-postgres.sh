#!/usr/bin/env bash
# A local PostgreSQL for development and for `make run-replicas` (README "Run vouch on
# PostgreSQL"): its own data directory inside the project (.vouch-pg/, or $VOUCH_PG_DIR), its own
# port on 127.0.0.1 ($VOUCH_PG_PORT, default 55432), never the system's cluster.
#
#   scripts/dev-postgres.sh start    initdb on first use (superuser "vouch", a random password
#                                    in <dir>/password, scram-sha-256 over TCP), start in the
#                                    background, create the database "vouch"; writes <dir>/env
#                                    (VOUCH_PG_DSN, VOUCH_PG_PASSWORD_FILE) and prints it
#   scripts/dev-postgres.sh stop     stops it (pg_ctl on that data directory only)
#   scripts/dev-postgres.sh status
#
# Binaries: $VOUCH_PG_BINDIR, else the newest /usr/lib/postgresql/<major>/bin (Debian's
# postgresql package; scripts/install-deps.sh installs it). As root the server runs as the user
# postgres (PostgreSQL refuses root), which then owns the data directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${VOUCH_PG_DIR:-$root/.vouch-pg}
port=${VOUCH_PG_PORT:-55432}
cmd=${1:-start}

bindir=${VOUCH_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "dev-postgres: PostgreSQL's server binaries not found (no /usr/lib/postgresql/*/bin/initdb):" \
    "install the Debian package postgresql (scripts/install-deps.sh)" >&2
  exit 1
fi
as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "dev-postgres: running as root and there is no user postgres" >&2; exit 1; }
  as=(runuser -u postgres --)
fi
pg_ctl() { "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" "$@"; }
running() { [ -f "$dir/data/postmaster.pid" ] && pg_ctl status >/dev/null 2>&1; }

case $cmd in
  start)
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ ${#as[@]} != 0 ] && ! runuser -u postgres -- test -x "$(dirname "$dir")"; then
      echo "dev-postgres: the user postgres cannot reach $(dirname "$dir"); choose VOUCH_PG_DIR" \
        "under a directory it may enter" >&2
      exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      umask 077
      head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$dir/password"
      [ ${#as[@]} = 0 ] || chown postgres: "$dir" "$dir/password"
      "${as[@]}" "$bindir/initdb" -D "$dir/data" -U vouch --pwfile="$dir/password" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { echo "dev-postgres: initdb failed: $(tail -5 "$dir/initdb.log")" >&2; exit 1; }
    fi
    if ! running; then
      pg_ctl -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >"$dir/pg_ctl.log" 2>&1 \
        || { echo "dev-postgres: start failed: $(tail -5 "$dir/server.log")" >&2; exit 1; }
    fi
    port=$(sed -n 4p "$dir/data/postmaster.pid")
    if [ "$("$bindir/psql" -h "$dir" -p "$port" -U vouch -d postgres -XAtq \
          -c "SELECT 1 FROM pg_database WHERE datname = 'vouch'")" != 1 ]; then
      "$bindir/psql" -h "$dir" -p "$port" -U vouch -d postgres -Xq -c "CREATE DATABASE vouch"
    fi
    cat >"$dir/env" <<ENV
VOUCH_PG_DSN='host=127.0.0.1 port=$port user=vouch dbname=vouch'
VOUCH_PG_PASSWORD_FILE='$dir/password'
ENV
    echo "PostgreSQL on 127.0.0.1:$port (data in $dir; stop: $0 stop)"
    cat "$dir/env"
    ;;
  stop)
    if running; then pg_ctl -m fast -w -t 60 stop >/dev/null; echo "stopped"; else echo "not running"; fi
    ;;
  status)
    if running; then echo "running on 127.0.0.1:$(sed -n 4p "$dir/data/postmaster.pid") (data in $dir)"; else echo "not running"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
