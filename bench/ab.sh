#!/usr/bin/env bash
# A/B of two web binaries: they alternate, ROUNDS times, each serving one
# load-tool run of DUR at saturation (SCEN, C clients), so machine noise falls
# on both alike. Each binary has its own fresh database, migrated and seeded
# by that binary: two versions with different migrations are each measured on
# their own schema (a shared database would give the older binary the newer
# schema). Used for the accept-flow comparison of issue 14 (BENCHMARKS.md).
#
#   go build -o /tmp/a/web ./cmd/web   # in the two checkouts
#   A=/tmp/a/web B=/tmp/b/web SCEN=accept C=32 ROUNDS=4 bash bench/ab.sh
#
# Each round prints the load tool's line and the CPU milliseconds per
# operation of the client, web, PostgreSQL and Redis (the machine must be
# otherwise idle: every PostgreSQL process counts); the end, the medians and
# B ÷ A. Throttles off, tokens verified against a JWKS the load tool serves,
# DEBUG=false; everything it starts it stops; it drops its databases.
set -euo pipefail
: "${A:?A=path to web binary}" "${B:?B=path to web binary}"
SCEN=${SCEN:-accept}; C=${C:-32}; DUR=${DUR:-10s}; ROUNDS=${ROUNDS:-4}; PORT=${PORT:-18300}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-ab.XXXXXX); db="hermez_ab_$$_$RANDOM"; web_pid=""; jwks_pid=""
cleanup() {
  [ -n "$web_pid" ] && kill "$web_pid" 2>/dev/null
  [ -n "$jwks_pid" ] && kill "$jwks_pid" 2>/dev/null
  sleep 1
  for v in a b; do
    psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS ${db}_$v WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/load" ./bench/cmd/load)
export MIGRATE_ON_START=true PORT
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0
cd "$work"
jwks=127.0.0.1:$((PORT + 1))
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 6h >jwks.log 2>&1 &
jwks_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DEBUG=false CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 SECRET_KEY
url() { echo "$PG_URL/${db}_$1?sslmode=disable"; }
for v in A B; do
  lv=${v,,}
  psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE ${db}_$lv"
  DATABASE_URL=$(url "$lv") "${!v}" migrate 2>>"web_$lv.log" && DATABASE_URL=$(url "$lv") "${!v}" seed 2>>"web_$lv.log" ||
    { tail -20 "web_$lv.log"; exit 1; }
done

# CPU accounting as in writes.sh: clock ticks (utime + stime, reaped children
# included) of web, every PostgreSQL process and Redis, before and after.
hz=$(getconf CLK_TCK)
ticks() { local t=0 p v; for p in "$@"; do v=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
TIMEFORMAT='%U %S'
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $SCEN c=$C, $ROUNDS rounds of $DUR"
declare -A rates=([A]="" [B]="") webcpu=([A]="" [B]="")
for r in $(seq 1 "$ROUNDS"); do
  for v in A B; do
    lv=${v,,}
    DATABASE_URL=$(url "$lv") REDIS_PREFIX="ab$$$lv:" "${!v}" 2>>"web_$lv.log" &
    web_pid=$!
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    # An unmeasured warm-up, then the measured run with -warmup 0: the CPU is
    # read around the whole load-tool process while ops count only the run, so
    # the tool's own in-process warm-up would inflate every ms/op (not B ÷ A).
    ./load -target "http://127.0.0.1:$PORT" -dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -duration 2s \
      -warmup 0 -pause 0s -scenario "$SCEN" -c "$C" -runs 1 >/dev/null 2>&1 || true
    w0=$(ticks "$web_pid") p0=$(ticks $(pgrep -x postgres)) r0=$(ticks $(pgrep -x redis-server))
    t=$( { time ./load -target "http://127.0.0.1:$PORT" -dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -duration "$DUR" \
      -warmup 0 -pause 1s -scenario "$SCEN" -c "$C" -runs 1 >out.txt 2>&1; } 2>&1 ) || true
    w1=$(ticks "$web_pid") p1=$(ticks $(pgrep -x postgres)) r1=$(ticks $(pgrep -x redis-server))
    res=$(grep '^scenario' out.txt | head -1 || true)
    ops=$(grep -o ' ops=[0-9]*' <<<"$res" | cut -d= -f2)
    cpu=$(awk -v ops="${ops:-0}" -v c="$t" -v hz="$hz" -v w=$((w1 - w0)) -v p=$((p1 - p0)) -v rd=$((r1 - r0)) 'BEGIN {
      split(c, u, " "); if (ops < 1) ops = 1
      printf "cpu ms/op client=%.3f web=%.3f postgres=%.3f redis=%.3f", (u[1] + u[2]) * 1000 / ops, w * 1000 / hz / ops,
        p * 1000 / hz / ops, rd * 1000 / hz / ops }')
    echo "round $r $v $res"
    echo "round $r $v $cpu"
    rates[$v]+="$(grep -o 'ops/s=[0-9.]*' <<<"$res" | cut -d= -f2) "
    webcpu[$v]+="$(grep -o 'web=[0-9.]*' <<<"$cpu" | cut -d= -f2) "
    kill "$web_pid"; wait "$web_pid" 2>/dev/null || true; web_pid=""
    for _ in $(seq 1 50); do ss -ltn "sport = :$PORT" | grep -q LISTEN || break; sleep 0.2; done
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { n = NR; if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
ma=$(median "${rates[A]}") mb=$(median "${rates[B]}")
ca=$(median "${webcpu[A]}") cb=$(median "${webcpu[B]}")
echo "== web CPU ms/op medians: A $ca (${webcpu[A]% }), B $cb (${webcpu[B]% }), B ÷ A = $(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.2f", b / a }'); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians: A $ma ops/s (${rates[A]% }), B $mb ops/s (${rates[B]% }), B ÷ A = $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", b / a }')"
