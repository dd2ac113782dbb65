# shellcheck shell=bash
# Sourced by .ci/run: makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests.
# If one already answers it is used as is; otherwise a throwaway cluster is created, started, and removed by
# stop_postgres. PostgreSQL refuses to run as root, so the cluster runs as the `postgres` user.

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
  # The newest installed server version.
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres() {
  if pg_answers; then
    echo "postgres: using the server already answering on 127.0.0.1:$PG_PORT"
    return 0
  fi
  local bin
  bin=$(pg_bin_dir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres: no server binaries under /usr/lib/postgresql" >&2
    return 1
  fi
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  PG_STARTED_DIR=$(mktemp -d /tmp/allure-hub-pg.XXXXXX)
  chown postgres "$PG_STARTED_DIR"
  as_postgres() { runuser -u postgres -- "$@"; }
  as_postgres "$bin/initdb" -D "$PG_STARTED_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_STARTED_DIR/initdb.log" 2>&1 || {
    cat "$PG_STARTED_DIR/initdb.log" >&2
    return 1
  }
  # fsync off: a throwaway cluster needs no durability, and tests create and drop many databases.
  if ! as_postgres "$bin/pg_ctl" -D "$PG_STARTED_DIR/data" -l "$PG_STARTED_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_STARTED_DIR -c fsync=off -c max_connections=300" \
    start >/dev/null; then
    echo "postgres: the throwaway cluster did not start:" >&2
    cat "$PG_STARTED_DIR/server.log" >&2
    return 1
  fi
  echo "postgres: started a throwaway cluster ($($bin/postgres --version)) in $PG_STARTED_DIR"
}

stop_postgres() {
  [ -n "$PG_STARTED_DIR" ] || return 0
  local bin
  bin=$(pg_bin_dir)
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_STARTED_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_STARTED_DIR"
  PG_STARTED_DIR=""
}
