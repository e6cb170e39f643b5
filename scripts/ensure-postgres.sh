# Sourced by `make unit`: exports PREMORTEM_TEST_POSTGRES_URL, a PostgreSQL URL on which the
# tests may create databases. Uses the server on 127.0.0.1:5432 when one answers; otherwise
# starts a throwaway cluster under .pg/ (Debian's postgresql package, installed if missing).

if [[ -n "${PREMORTEM_TEST_POSTGRES_URL:-}" ]]; then
  return 0
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export PREMORTEM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
  return 0
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$pg_bin" ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
pg_dir="$PWD/.pg"
pg_port=55432
as_owner=()
if [[ $(id -u) == 0 ]]; then
  # initdb refuses to run as root.
  mkdir -p "$pg_dir" && chown postgres "$pg_dir"
  as_owner=(runuser -u postgres --)
fi
if [[ ! -f "$pg_dir/data/PG_VERSION" ]]; then
  "${as_owner[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p "$pg_port"; then
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null
fi
export PREMORTEM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
