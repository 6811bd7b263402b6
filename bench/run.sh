#!/usr/bin/env bash
# Runs every HTTP scenario of the load tool RUNS times against a fresh
# PostgreSQL-backed web process and prints the medians. Bounded: each run
# lasts DURATION; the whole script takes about
#   (#scenarios × (1 + #rates)) × RUNS × (DURATION + pause).
# Everything it starts it stops (by pid), and it drops the database it made.
#
#   bash bench/run.sh                         # defaults below
#   RUNS=5 DURATION=10s RATES="1000 5000" SCENARIOS="me categories" bash bench/run.sh
#   WRITE_RATES="100 250" SCENARIOS="quote accept" bash bench/run.sh
#
# Needs PostgreSQL (PG_URL, a superuser URL without database name) and, unless
# REDIS_URL is set empty, Redis. Loopback only.
#
# ISSUER=clerk (default): web runs as in production (DEBUG=false, JSON logs)
# and verifies tokens against a JWKS that the load tool serves in place of
# Clerk (-serve-jwks / -issuer). ISSUER=dev: DEBUG=true and development tokens.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
C=${C:-64}
RATES=${RATES:-1000 5000}            # fixed rates of the GET scenarios (me, categories)
WRITE_RATES=${WRITE_RATES:-250}      # fixed rates of quote (req/s) and accept (flows/s ×3 requests): below their capacity
SCENARIOS=${SCENARIOS:-me categories quote accept}
PORT=${PORT:-18000}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL-redis://127.0.0.1:6379/0}
JSON=${JSON:-}
ISSUER=${ISSUER:-clerk}

if (( RUNS < 1 || RUNS > 10 )); then echo "RUNS must be 1..10" >&2; exit 2; fi

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-bench.XXXXXX)
db="hermez_bench_$$_$RANDOM"
web_pid=""
jwks_pid=""

cleanup() {
  if [[ -n "$jwks_pid" ]]; then kill -TERM "$jwks_pid" 2>/dev/null || true; fi
  if [[ -n "$web_pid" ]] && kill -0 "$web_pid" 2>/dev/null; then
    kill -TERM "$web_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$web_pid" 2>/dev/null || break; sleep 0.2; done
  fi
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building web and load into $work"
(cd "$root" && go build -o "$work/web" ./cmd/web && go build -o "$work/load" ./bench/cmd/load)

echo "== database $db"
psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
export DATABASE_URL="$PG_URL/$db?sslmode=disable" MIGRATE_ON_START=true PORT
export REDIS_URL REDIS_PREFIX="bench$$:"
# The load is a few users far past a human's pace: the throttles would measure themselves.
export THROTTLE_USER_WRITES=${THROTTLE_USER_WRITES:-0} THROTTLE_QUOTES=${THROTTLE_QUOTES:-0} \
  THROTTLE_ANON=${THROTTLE_ANON:-0} WS_MAX_SOCKETS_PER_USER=${WS_MAX_SOCKETS_PER_USER:-0}
cd "$work"
key=.hermez/dev-jwt.pem
issuer_args=()
if [[ $ISSUER == clerk ]]; then
  jwks="127.0.0.1:$((PORT + 1))"
  key=issuer/dev-jwt.pem
  ./load -serve-jwks "$jwks" -dev-key "$key" -serve-for 6h >jwks.log 2>&1 &
  jwks_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export DEBUG=false CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321
  SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export SECRET_KEY
  issuer_args=(-issuer "http://$jwks")
  echo "== production verification: JWKS served by the load tool at http://$jwks, DEBUG=false"
else
  export DEBUG=true
  echo "== development issuer: DEBUG=true"
fi
./web migrate 2>>web.log
./web seed 2>>web.log

echo "== starting web on 127.0.0.1:$PORT (log: $work/web.log)"
./web 2>>web.log &
web_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$web_pid" 2>/dev/null || { echo "web exited; see log:"; tail -20 web.log; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null

echo "== machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
load=(./load -target "http://127.0.0.1:$PORT" -dev-key "$key" "${issuer_args[@]}" -runs "$RUNS" -duration "$DURATION" -c "$C")
[[ -n "$JSON" ]] && load+=(-json)

summary=()
for s in $SCENARIOS; do
  echo "== $s: saturation, c=$C"
  out=$("${load[@]}" -scenario "$s" 2>&1) || true
  echo "$out"
  summary+=("$(grep '^MEDIAN' <<<"$out" || grep '^scenario=' <<<"$out" | tail -1 || echo "$s: failed")")
  rates=$RATES
  case $s in quote | accept) rates=$WRITE_RATES ;; esac
  [[ $s == accept ]] && rates=$(for r in $rates; do echo $((r / 3)); done)
  for r in $rates; do
    echo "== $s: fixed rate $r/s"
    out=$("${load[@]}" -scenario "$s" -rate "$r" -warmup 0 2>&1) || true
    echo "$out"
    summary+=("$(grep '^MEDIAN' <<<"$out" || grep '^scenario=' <<<"$out" | tail -1 || echo "$s @ $r/s: failed")")
  done
done

echo
echo "== medians of $RUNS runs ($DURATION each)"
printf '%s\n' "${summary[@]}"
