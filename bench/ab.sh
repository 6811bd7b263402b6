#!/usr/bin/env bash
# A/B of two web binaries on one database: they alternate, ROUNDS times,
# each serving one load-tool run of DUR at saturation (SCEN, C clients), so
# machine noise and the database's growth fall on both alike. Used for the
# accept-flow comparison of issue 14 (BENCHMARKS.md, "Write figures, session 11").
#
#   go build -o /tmp/a/web ./cmd/web   # in the two checkouts
#   A=/tmp/a/web B=/tmp/b/web SCEN=accept C=32 ROUNDS=3 bash bench/ab.sh
#
# DB=1 also runs bench/cmd/dbwrite before each round. Throttles off, tokens
# verified against a JWKS the load tool serves, DEBUG=false; everything it
# starts it stops; it drops its database.
set -euo pipefail
: "${A:?A=path to web binary}" "${B:?B=path to web binary}"
SCEN=${SCEN:-quote}; C=${C:-64}; DUR=${DUR:-10s}; ROUNDS=${ROUNDS:-3}; PORT=${PORT:-18300}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-ab.XXXXXX); db="hermez_ab_$$_$RANDOM"; web_pid=""; jwks_pid=""
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null
  [ -n "$jwks_pid" ] && kill "$jwks_pid" 2>/dev/null
  sleep 1
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/load" ./bench/cmd/load && go build -o "$work/dbwrite" ./bench/cmd/dbwrite)
psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
export DATABASE_URL="$PG_URL/$db?sslmode=disable" MIGRATE_ON_START=true PORT
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0} REDIS_PREFIX="ab$$:"
export THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0
cd "$work"
jwks=127.0.0.1:$((PORT + 1))
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 6h >jwks.log 2>&1 &
jwks_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DEBUG=false CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 SECRET_KEY
"$A" migrate 2>>web.log && "$A" seed 2>>web.log || { tail -20 web.log; exit 1; }
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  if [ -n "${DB:-}" ]; then echo "round $r DB $(./dbwrite -db "$DATABASE_URL" -c "$C" -duration "$DUR")"; fi
  for v in A B; do
    "${!v}" 2>>web.log &
    web_pid=$!
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    res=$(./load -target "http://127.0.0.1:$PORT" -dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -duration "$DUR" \
      -pause 1s -scenario "$SCEN" -c "$C" -runs 1 2>&1 | grep '^scenario' || true)
    echo "round $r $v $res"
    kill "$web_pid"; wait "$web_pid" 2>/dev/null || true; web_pid=""
  done
done
