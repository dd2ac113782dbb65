# shellcheck shell=bash
# Sourced by .ci/run: makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests.
# ensure_postgres uses a server that already answers as is; otherwise it creates and starts a throwaway cluster
# (needs root: PostgreSQL refuses to run as root, so the cluster runs as the `postgres` user).
# stop_postgres stops and removes that cluster, and does nothing if none was started. Both are safe to call twice.

PG_PORT=5432
PG_STARTED_DIR=""

pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null
  fi
}

pg_bin_dir() {
  # The newest installed server version ("" when none; `|| true` because of pipefail).
  { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1
}

# Runs a command as `postgres` from a directory it can read (the caller's may be under /root).
as_postgres() {
  (cd / && runuser -u postgres -- "$@")
}

ensure_postgres() {
  if pg_answers; then
    echo "postgres: using the server already answering on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local bin
  bin=$(pg_bin_dir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres: nothing answers on 127.0.0.1:$PG_PORT and no server binaries under /usr/lib/postgresql" >&2
    return 1
  fi
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  PG_STARTED_DIR=$(mktemp -d /tmp/allure-hub-pg.XXXXXX)
  chown postgres "$PG_STARTED_DIR"
  if ! as_postgres "$bin/initdb" -D "$PG_STARTED_DIR/data" -U postgres --auth=trust -E UTF8 \
    >"$PG_STARTED_DIR/initdb.log" 2>&1; then
    echo "postgres: initdb failed:" >&2
    cat "$PG_STARTED_DIR/initdb.log" >&2
    return 1
  fi
  # fsync off: a throwaway cluster needs no durability, and tests create and drop many databases.
  # The socket goes into the cluster's own directory, so no /var/run/postgresql is needed.
  if ! as_postgres "$bin/pg_ctl" -D "$PG_STARTED_DIR/data" -l "$PG_STARTED_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_STARTED_DIR -c fsync=off -c max_connections=200" \
    start >/dev/null; then
    echo "postgres: the throwaway cluster did not start:" >&2
    cat "$PG_STARTED_DIR/server.log" >&2
    return 1
  fi
  echo "postgres: started a throwaway cluster ($("$bin/postgres" --version)) in $PG_STARTED_DIR"
}

stop_postgres() {
  [ -n "$PG_STARTED_DIR" ] || return 0
  local bin
  bin=$(pg_bin_dir)
  if [ -f "$PG_STARTED_DIR/data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$PG_STARTED_DIR/data" -m fast -w stop >/dev/null 2>&1 ||
      echo "postgres: could not stop the throwaway cluster in $PG_STARTED_DIR" >&2
  fi
  rm -rf "$PG_STARTED_DIR"
  PG_STARTED_DIR=""
}
