#!/usr/bin/env bash
# Write figures (issue 14): how close POST /deliveries/api/quotes/ comes to
# what the database itself can write, and the accept flow's rate.
#
# On one fresh PostgreSQL database, RUNS times: bench/cmd/dbwrite writes the
# rows of a quote creation straight to the database (a quote, its history row,
# three outbox frames in one transaction, then their published mark, batched
# as web batches them with Outbox.Run — MARKS=each: one UPDATE per
# transaction, the reference until session 15; pgx,
# C writers spread over DB_USERS client users, 16 by default, as the load
# tool's workers are spread over users; DB_USERS=1 is the old one-user shape,
# whose MultiXacts on the one users row make it slower than POST quote pays),
# then the load tool posts quotes at saturation (C clients), then
# dbwrite again; each run prints both figures and POST quote ÷ the mean of
# the two database figures. Then the accept flow (quote, offer, accept) at
# saturation with ACCEPT_C clients, RUNS times. Medians at the end.
#
#   flock /work/bench.lock bash bench/writes.sh
#   WEB_SRC=/tmp/before flock /work/bench.lock bash bench/writes.sh   # web built from another tree
#
# Throttles are off (a few users far past a human's pace). The web process
# runs as in production (DEBUG=false, tokens verified against a JWKS the load
# tool serves). Everything it starts it stops by pid; it drops its database.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
C=${C:-64}
ACCEPT_C=${ACCEPT_C:-32}
DB_USERS=${DB_USERS:-16}
MARKS=${MARKS:-batched}
# dbwrite's C writers share DB_CONNS connections, as web's C requests share its
# pool (DATABASE_MAX_CONNECTIONS, 20); on 2 cores 20 connections write faster
# than 64. DB_CONNS=0: one connection per writer, the reference until session 15.
DB_CONNS=${DB_CONNS:-20}
PORT=${PORT:-18100}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL-redis://127.0.0.1:6379/0}

if (( RUNS < 1 || RUNS > 10 )); then echo "RUNS must be 1..10" >&2; exit 2; fi

root=$(cd "$(dirname "$0")/.." && pwd)
web_src=${WEB_SRC:-$root}
work=$(mktemp -d -t hermez-writes.XXXXXX)
db="hermez_writes_$$_$RANDOM"
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

echo "== building web from $web_src ($(cd "$web_src" && git rev-parse --short HEAD 2>/dev/null || echo '?')), load and dbwrite from $root"
(cd "$web_src" && go build -o "$work/web" ./cmd/web)
(cd "$root" && go build -o "$work/load" ./bench/cmd/load && go build -o "$work/dbwrite" ./bench/cmd/dbwrite)

psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
export DATABASE_URL="$PG_URL/$db?sslmode=disable" MIGRATE_ON_START=true PORT
export REDIS_URL REDIS_PREFIX="writes$$:"
export THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0
cd "$work"
jwks="127.0.0.1:$((PORT + 1))"
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 6h >jwks.log 2>&1 &
jwks_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
export DEBUG=false CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SECRET_KEY
./web migrate 2>>web.log
./web seed 2>>web.log
./web 2>>web.log &
web_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$web_pid" 2>/dev/null || { echo "web exited; see log:"; tail -20 web.log; exit 1; }
  sleep 0.1
done
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

load=(./load -target "http://127.0.0.1:$PORT" -dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -duration "$DURATION" -pause 2s)
field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }

# CPU accounting: clock ticks (utime + stime) of the web process, of every
# PostgreSQL process and of Redis, read before and after a run (the machine
# must be otherwise idle: every PostgreSQL process counts); the client's
# own (load or dbwrite) from bash's `time`. Printed as CPU milliseconds per
# operation, so the cost of a POST quote and of a database transaction can
# be compared part by part.
hz=$(getconf CLK_TCK)
# Fields 16 and 17 are the reaped children's: the postmaster's count the
# backends that exited during the run (dbwrite's connections).
ticks() { local t=0 p v; for p in "$@"; do v=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
pg_pids() { pgrep -x postgres | tr '\n' ' '; }
redis_pids() { pgrep -x redis-server | tr '\n' ' '; }
TIMEFORMAT='%U %S'
# measure NAME CMD...: runs CMD, prints its report line, then
# "cpu NAME ops=… client=… web=… postgres=… redis=… ms/op".
measure() {
  local name=$1; shift
  local w0 p0 r0 w1 p1 r1 out ops
  w0=$(ticks "$web_pid") p0=$(ticks $(pg_pids)) r0=$(ticks $(redis_pids))
  out=$( { time "$@" >"$work/out.txt" 2>&1; } 2>&1 ) || true
  w1=$(ticks "$web_pid") p1=$(ticks $(pg_pids)) r1=$(ticks $(redis_pids))
  grep -E '^scenario' "$work/out.txt" | head -1
  ops=$(grep -E '^scenario' "$work/out.txt" | head -1 | grep -o ' ops=[0-9]*' | cut -d= -f2)
  awk -v n="$name" -v ops="${ops:-0}" -v c="$out" -v hz="$hz" -v w=$((w1 - w0)) -v p=$((p1 - p0)) -v r=$((r1 - r0)) 'BEGIN {
    split(c, t, " "); if (ops < 1) ops = 1
    printf "cpu %s ops=%d client=%.3f web=%.3f postgres=%.3f redis=%.3f total=%.3f ms/op\n", n, ops,
      (t[1] + t[2]) * 1000 / ops, w * 1000 / hz / ops, p * 1000 / hz / ops, r * 1000 / hz / ops,
      ((t[1] + t[2]) + (w + p + r) / hz) * 1000 / ops }'
}

ratios=() quotes=() dbs=() olds=()
for i in $(seq 1 "$RUNS"); do
  db1=$(measure dbwrite ./dbwrite -db "$DATABASE_URL" -c "$C" -users "$DB_USERS" -marks "$MARKS" -conns "$DB_CONNS" -duration "$DURATION")
  sleep 2
  q=$(measure post-quote "${load[@]}" -scenario quote -c "$C" -runs 1)
  sleep 2
  db2=$(measure dbwrite ./dbwrite -db "$DATABASE_URL" -c "$C" -users "$DB_USERS" -marks "$MARKS" -conns "$DB_CONNS" -duration "$DURATION")
  a=$(head -1 <<<"$db1" | field tx/s) b=$(head -1 <<<"$db2" | field tx/s) r=$(head -1 <<<"$q" | field req/s)
  ratio=$(awk -v q="$r" -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", q / ((a + b) / 2) }')
  echo "run $i: database before: $db1"
  echo "run $i: POST quote:      $q"
  echo "run $i: database after:  $db2"
  echo "run $i: POST quote $r req/s ÷ database $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (a + b) / 2 }') tx/s = $ratio"
  ratios+=("$ratio") quotes+=("$r") dbs+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (a + b) / 2 }')")
  if (( DB_USERS != 1 )) && [[ ${OLD_SHAPE:-1} != 0 ]]; then
    # The old, unfair shape (every writer as one user), printed beside the
    # fair one as issue 23 asks; not part of the ratio. OLD_SHAPE=0 skips it.
    sleep 2
    db1u=$(measure dbwrite-users1 ./dbwrite -db "$DATABASE_URL" -c "$C" -users 1 -marks "$MARKS" -conns "$DB_CONNS" -duration "$DURATION")
    echo "run $i: database, one user (old shape, not in the ratio): $db1u"
    olds+=("$(head -1 <<<"$db1u" | field tx/s)")
  fi
  sleep 2
done

echo "== accept flow (quote, offer, accept), c=$ACCEPT_C"
acc=""
for i in $(seq 1 "$RUNS"); do
  a=$(measure accept-flow "${load[@]}" -scenario accept -c "$ACCEPT_C" -runs 1)
  echo "$a"
  acc+="$a"$'\n'
  sleep 2
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "== medians of $RUNS runs ($DURATION each), c=$C"
echo "POST quote req/s=$(median "${quotes[@]}")  database tx/s=$(median "${dbs[@]}") (users=$DB_USERS marks=$MARKS conns=$DB_CONNS)  ratio=$(median "${ratios[@]}")"
if (( ${#olds[@]} > 0 )); then echo "database, one user (old shape): tx/s=$(median "${olds[@]}")  POST quote ÷ it=$(awk -v q="$(median "${quotes[@]}")" -v d="$(median "${olds[@]}")" 'BEGIN { printf "%.2f", q / d }')"; fi
flows=()
while read -r line; do flows+=("$(field ops/s <<<"$line")"); done < <(grep '^scenario=accept' <<<"$acc")
echo "accept flows/s=$(median "${flows[@]}") (3 requests each)"
