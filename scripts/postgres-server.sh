#!/usr/bin/env bash
# A throwaway PostgreSQL 17 + pgvector server on 127.0.0.1 for tests, benchmarks and CI, with
# no Docker and no system-wide install: Debian trixie's postgresql-17-pgvector in a
# debootstrap'ed root (built once, ~2 minutes, cached), run with chroot as its unprivileged
# `postgres` user.
#
#   scripts/postgres-server.sh start    build the root if needed, start (or reuse) the server, print DATABASE_URL
#   scripts/postgres-server.sh url      print DATABASE_URL of the running server (exit 1 if none)
#   scripts/postgres-server.sh stop     stop it (the data folder is removed: every start is a fresh cluster)
#   scripts/postgres-server.sh status   say whether it runs
#   scripts/postgres-server.sh halt     stop it but keep its data and port (a database outage, for fault tests)
#   scripts/postgres-server.sh restart  start it again on the same data and port (halted or running), print DATABASE_URL
#
# Needs root (debootstrap, chroot) or sudo. STRATA_PG_ROOT moves the root (default
# ${XDG_CACHE_HOME:-~/.cache}/strata/pg-trixie); STRATA_PG_MIRROR picks the Debian mirror.
# STRATA_PG_INSTANCE=NAME runs a separate server with its own data folder in the same root (CI's
# server and scripts/topology.mjs's run side by side); STRATA_PG_PORT fixes its port (default: a
# free one).
set -euo pipefail

ROOT=${STRATA_PG_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/pg-trixie}
MIRROR=${STRATA_PG_MIRROR:-http://deb.debian.org/debian}
PG_VERSION=17
BIN=/usr/lib/postgresql/$PG_VERSION/bin
INSTANCE=${STRATA_PG_INSTANCE:-}
[[ "$INSTANCE" =~ ^[a-z0-9_-]*$ ]] || { echo "postgres-server: STRATA_PG_INSTANCE must be lower-case letters, digits, '-' or '_', got \"$INSTANCE\"" >&2; exit 2; }
HOME_IN_ROOT=/var/lib/strata-pg${INSTANCE:+-$INSTANCE}
DATA=$HOME_IN_ROOT/data               # inside the root
STATE=$ROOT$HOME_IN_ROOT/state        # "PORT" of the server (kept while it is halted)
LOG=$ROOT$HOME_IN_ROOT/server.log

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
say() { echo "postgres-server: $*" >&2; }
in_root() { "${sudo_cmd[@]}" chroot --userspec=postgres:postgres "$ROOT" "$@"; }

build_root() {
  [ -f "$ROOT/.strata-ready" ] && return 0
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq debootstrap >/dev/null
  }
  local partial=$ROOT.partial
  "${sudo_cmd[@]}" rm -rf "$partial"
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$ROOT")"
  say "building a Debian trixie root in $ROOT (once; about 2 minutes)"
  "${sudo_cmd[@]}" debootstrap --variant=minbase trixie "$partial" "$MIRROR" >"$partial.log" 2>&1 \
    || { tail -20 "$partial.log" >&2; say "debootstrap failed (log: $partial.log)"; exit 1; }
  # Packages must not start services or create the default cluster: we run our own.
  "${sudo_cmd[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > '$partial/usr/sbin/policy-rc.d' && chmod +x '$partial/usr/sbin/policy-rc.d'"
  "${sudo_cmd[@]}" mkdir -p "$partial/etc/postgresql-common"
  "${sudo_cmd[@]}" sh -c "echo 'create_main_cluster = false' > '$partial/etc/postgresql-common/createcluster.conf'"
  "${sudo_cmd[@]}" chroot "$partial" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-$PG_VERSION postgresql-$PG_VERSION-pgvector && apt-get clean" \
    >>"$partial.log" 2>&1 || { tail -20 "$partial.log" >&2; say "installing postgresql in the root failed (log: $partial.log)"; exit 1; }
  "${sudo_cmd[@]}" touch "$partial/.strata-ready"
  "${sudo_cmd[@]}" rm -rf "$ROOT"
  "${sudo_cmd[@]}" mv "$partial" "$ROOT"
  "${sudo_cmd[@]}" rm -f "$partial.log"
}

free_port() {
  if command -v node >/dev/null; then
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
  else
    python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1]);s.close()"
  fi
}

running_port() {
  [ -f "$STATE" ] || return 1
  local port
  port=$(cat "$STATE")
  in_root "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
  echo "$port"
}

url() { echo "postgres://postgres@127.0.0.1:$1/strata"; }

# Starts the cluster in $DATA on port $1.
run_server() {
  # No /dev/shm or unix socket in the root: dynamic shared memory in files, TCP only.
  in_root "$BIN/pg_ctl" -D "$DATA" -l "$HOME_IN_ROOT/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $1 -c unix_socket_directories='' -c dynamic_shared_memory_type=mmap -c max_connections=50 -c shared_buffers=256MB -c maintenance_work_mem=512MB -c fsync=off -c synchronous_commit=off" >/dev/null \
    || { tail -20 "$LOG" >&2; say "server did not start"; exit 1; }
}

start() {
  build_root
  local port
  if port=$(running_port); then url "$port"; return 0; fi
  "${sudo_cmd[@]}" rm -rf "$ROOT$DATA" "$STATE"
  "${sudo_cmd[@]}" mkdir -p "$ROOT$DATA"
  # The root's postgres user, not the host's (their uids differ).
  "${sudo_cmd[@]}" chroot "$ROOT" chown -R postgres:postgres "$HOME_IN_ROOT"
  # Loopback only, trust auth: a disposable server for tests, never a production setup.
  in_root "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  port=${STRATA_PG_PORT:-$(free_port)}
  run_server "$port"
  in_root "$BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -c "CREATE DATABASE strata" >/dev/null
  echo "$port" | "${sudo_cmd[@]}" tee "$STATE" >/dev/null
  url "$port"
}

# Stops the server, keeping its data folder and port for `restart`.
halt() {
  [ -f "$STATE" ] || { say "no server to halt (scripts/postgres-server.sh start)"; exit 1; }
  if in_root "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    in_root "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
}

restart() {
  [ -f "$STATE" ] || { say "no server to restart (scripts/postgres-server.sh start)"; exit 1; }
  local port
  port=$(cat "$STATE")
  halt
  run_server "$port"
  url "$port"
}

stop() {
  if [ -f "$ROOT/.strata-ready" ] && in_root "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    in_root "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  "${sudo_cmd[@]}" rm -rf "$ROOT$DATA" "$STATE"
  # A named instance leaves nothing behind (the default one keeps its last server.log).
  [ -z "$INSTANCE" ] || "${sudo_cmd[@]}" rm -rf "$ROOT$HOME_IN_ROOT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  halt) halt ;;
  restart) restart ;;
  url) port=$(running_port) || { say "not running (scripts/postgres-server.sh start)"; exit 1; }; url "$port" ;;
  status) if port=$(running_port); then echo "running on 127.0.0.1:$port"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|url|status|halt|restart" >&2; exit 2 ;;
esac
