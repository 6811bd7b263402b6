#!/usr/bin/env bash
# Write figures (issue 14, issue 23 §1): how close POST /deliveries/api/quotes/
# comes to what the database itself can write, beside the ceiling of any HTTP
# service writing the same rows on this machine, and the accept flow's rate.
#
# On one fresh PostgreSQL database, RUNS times, three measurements at
# saturation (C clients or writers), their order rotated from run to run:
# - the reference: bench/cmd/dbwrite writes the rows web writes for the load
#   tool's quote body straight to the database with pgx (the quote, its
#   history row, the outbox row with the three rendered frames, the same bytes
#   web stores; PAYLOAD=repeat: the old 900 × "x" frames) in one transaction,
#   then the published mark batched as web's Outbox.Run batches them
#   (MARKS=each: one UPDATE per transaction), the inserts pipelined in one
#   round trip (TX=statements: BEGIN, each, COMMIT); its writers share DB_CONNS
#   connections (20, web's pool) and are spread over DB_USERS users (default:
#   one per writer up to 200, as the load tool's workers are; DB_USERS=1 is
#   the old one-user shape, whose MultiXacts on the one users row make it
#   slower than POST quote pays);
# - the bare HTTP writer: `dbwrite -serve`, a plain net/http server whose
#   POST /deliveries/api/quotes/ decodes the body and writes the same rows
#   with the same function, driven by the load tool's quote scenario (its
#   users named bareq_quote_<i>, as long as web's bench_quote_<i>): the
#   ceiling of an HTTP service with its load generator on the same cores;
# - POST quote on web, by the same load tool.
# Each run prints the three figures, POST quote ÷ reference, bare ÷ reference
# and POST quote ÷ bare, and a cpu line per measurement. Then the accept flow
# (quote, offer, accept) at saturation with ACCEPT_C clients, RUNS times.
# Medians at the end, with each measurement's median CPU per operation.
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
# 0: one user per writer up to 200, as the load tool spreads its C workers.
DB_USERS=${DB_USERS:-0}
MARKS=${MARKS:-batched}
PAYLOAD=${PAYLOAD:-rendered}
# pipelined: the reference's (and the bare writer's) three inserts in one
# round trip, an implicit transaction (1.2–1.4× the tx/s of TX=statements,
# BEGIN + each insert + COMMIT as web sends them, alternated in session 16).
TX=${TX:-pipelined}
# dbwrite's C writers share DB_CONNS connections, as web's C requests share its
# pool (DATABASE_MAX_CONNECTIONS, 20); on 2 cores 20 connections write faster
# than 64. DB_CONNS=0: one connection per writer, the reference until session 15.
# The bare HTTP writer's pool is DB_CONNS too (20 unless 0).
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
bare_pid=""

stop_pid() {
  local pid=$1
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
}
cleanup() {
  if [[ -n "$jwks_pid" ]]; then kill -TERM "$jwks_pid" 2>/dev/null || true; fi
  stop_pid "$bare_pid"
  stop_pid "$web_pid"
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
bare="127.0.0.1:$((PORT + 2))"
./dbwrite -db "$DATABASE_URL" -serve "$bare" -conns "$DB_CONNS" -marks "$MARKS" -tx "$TX" -payload "$PAYLOAD" >bare.log 2>&1 &
bare_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$bare/deliveries/api/categories/" >/dev/null 2>&1 && break
  kill -0 "$bare_pid" 2>/dev/null || { echo "the bare writer exited; see log:"; tail -20 bare.log; exit 1; }
  sleep 0.1
done
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(head -1 bare.log)"

# -warmup 0: the CPU of a measured run is read around the whole process, so a
# warm-up inside it (the tool's default, 2 s) would count in the CPU per
# operation of POST quote and the bare writer but not in the reference's
# (until session 16 it inflated them by warm-up ÷ DURATION, 20 % at 10 s).
# Each server is warmed up once instead, below, unmeasured.
tool=(./load -dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -duration "$DURATION" -pause 2s -warmup 0)
load=("${tool[@]}" -target "http://127.0.0.1:$PORT")
# The bare writer's users are bareq_quote_<i>: rows of their own, names as long as web's.
load_bare=("${tool[@]}" -target "http://$bare" -user-prefix bareq)
dbw=(./dbwrite -db "$DATABASE_URL" -c "$C" -users "$DB_USERS" -marks "$MARKS" -conns "$DB_CONNS" -tx "$TX" -payload "$PAYLOAD" -duration "$DURATION")
field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }

# CPU accounting: clock ticks (utime + stime) of the web process, of the bare
# writer, of every PostgreSQL process and of Redis, read before and after a
# run (the machine must be otherwise idle: every PostgreSQL process counts;
# the server not being measured idles and its idle cost counts too); the
# client's own (load or dbwrite) from bash's `time`. Printed as CPU
# milliseconds per operation, so the cost of a POST quote, of a bare write
# and of a database transaction can be compared part by part.
hz=$(getconf CLK_TCK)
# Fields 16 and 17 are the reaped children's: the postmaster's count the
# backends that exited during the run (dbwrite's connections), with their
# whole lifetime. Two races lost them: a backend that exits between pgrep's
# listing and the read of its own stat is gone from both readings when the
# postmaster's was read first (pgrep lists it first) — so the postmaster is
# read last — and dbwrite's 20 backends exit just as its run ends — so the
# after-reading waits AFTER_WAIT (0.5 s) for them to be reaped. Until session
# 16 both could drop the reference's PostgreSQL CPU to nothing (0.001 ms/op
# seen on a run).
ticks() { local t=0 p v; for p in "$@"; do v=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
pg_pids() { local pm; pm=$(pgrep -o -x postgres); pgrep -x postgres | grep -vx "$pm" | tr '\n' ' '; echo "$pm"; }
redis_pids() { pgrep -x redis-server | tr '\n' ' '; }
TIMEFORMAT='%U %S'
# measure NAME CMD...: waits 2 s reading every PostgreSQL process's CPU (the
# baseline: web's idle loops, and anyone else's databases on a shared
# machine — each measurement counts every PostgreSQL process), runs CMD,
# prints its report line, then
# "cpu NAME ops=… client=… web=… bare=… postgres=… redis=… total=… ms/op (postgres before: … ms/s)".
measure() {
  local name=$1; shift
  local w0 b0 p0 r0 w1 b1 p1 r1 out ops i0 i1
  i0=$(ticks $(pg_pids)); sleep 2; i1=$(ticks $(pg_pids))
  w0=$(ticks "$web_pid") b0=$(ticks "$bare_pid") p0=$(ticks $(pg_pids)) r0=$(ticks $(redis_pids))
  out=$( { time "$@" >"$work/out.txt" 2>&1; } 2>&1 ) || true
  sleep "${AFTER_WAIT:-0.5}"
  w1=$(ticks "$web_pid") b1=$(ticks "$bare_pid") p1=$(ticks $(pg_pids)) r1=$(ticks $(redis_pids))
  grep -E '^scenario' "$work/out.txt" | head -1
  ops=$(grep -E '^scenario' "$work/out.txt" | head -1 | grep -o ' ops=[0-9]*' | cut -d= -f2)
  awk -v n="$name" -v ops="${ops:-0}" -v c="$out" -v hz="$hz" -v w=$((w1 - w0)) -v b=$((b1 - b0)) -v p=$((p1 - p0)) -v r=$((r1 - r0)) -v idle=$((i1 - i0)) 'BEGIN {
    split(c, t, " "); if (ops < 1) ops = 1
    printf "cpu %s ops=%d client=%.3f web=%.3f bare=%.3f postgres=%.3f redis=%.3f total=%.3f ms/op (postgres before: %.0f ms/s)\n", n, ops,
      (t[1] + t[2]) * 1000 / ops, w * 1000 / hz / ops, b * 1000 / hz / ops, p * 1000 / hz / ops, r * 1000 / hz / ops,
      ((t[1] + t[2]) + (w + b + p + r) / hz) * 1000 / ops, idle * 1000 / hz / 2 }'
}

echo "== warming up (unmeasured): 2 s each of the reference, the bare writer, POST quote and the accept flow"
"${dbw[@]}" -duration 2s >/dev/null
"${load_bare[@]}" -scenario quote -c "$C" -runs 1 -duration 2s >/dev/null
"${load[@]}" -scenario quote -c "$C" -runs 1 -duration 2s >/dev/null
"${load[@]}" -scenario accept -c "$ACCEPT_C" -runs 1 -duration 2s >/dev/null
sleep 2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
refs=() bares=() quotes=() r_qr=() r_br=() r_qb=() olds=() olds_p=() cpus=""
orders=("ref bare quote" "bare quote ref" "quote ref bare")
for i in $(seq 1 "$RUNS"); do
  declare -A res=()
  for m in ${orders[$(( (i - 1) % 3 ))]}; do
    case $m in
      ref) res[ref]=$(measure reference "${dbw[@]}") ;;
      bare) res[bare]=$(measure bare-http "${load_bare[@]}" -scenario quote -c "$C" -runs 1) ;;
      quote) res[quote]=$(measure post-quote "${load[@]}" -scenario quote -c "$C" -runs 1) ;;
    esac
  done
  a=$(head -1 <<<"${res[ref]}" | field tx/s) b=$(head -1 <<<"${res[bare]}" | field req/s) q=$(head -1 <<<"${res[quote]}" | field req/s)
  echo "run $i (order: ${orders[$(( (i - 1) % 3 ))]}):"
  echo "  reference:        ${res[ref]//$'\n'/$'\n'                    }"
  echo "  bare HTTP writer: ${res[bare]//$'\n'/$'\n'                    }"
  echo "  POST quote:       ${res[quote]//$'\n'/$'\n'                    }"
  echo "run $i: reference $a tx/s, bare HTTP writer $b req/s, POST quote $q req/s;" \
    "POST quote ÷ reference $(ratio "$q" "$a"), bare ÷ reference $(ratio "$b" "$a"), POST quote ÷ bare $(ratio "$q" "$b")"
  refs+=("$a") bares+=("$b") quotes+=("$q")
  r_qr+=("$(ratio "$q" "$a")") r_br+=("$(ratio "$b" "$a")") r_qb+=("$(ratio "$q" "$b")")
  cpus+="$(grep '^cpu ' <<<"${res[ref]}${res[bare]:+$'\n'${res[bare]}}${res[quote]:+$'\n'${res[quote]}}")"$'\n'
  if (( DB_USERS != 1 )) && [[ ${OLD_SHAPE:-1} != 0 ]]; then
    # The old, unfair shape (every writer as one user), printed beside the
    # fair one as issue 23 asks; not part of the ratios. OLD_SHAPE=0 skips it.
    db1u=$(measure reference-users1 "${dbw[@]}" -users 1)
    echo "run $i: reference, one user (old shape, not in the ratios): ${db1u//$'\n'/ | }"
    olds+=("$(head -1 <<<"$db1u" | field tx/s)")
  fi
  if [[ ${OLD_PAYLOAD:-0} != 0 && $PAYLOAD != repeat ]]; then
    # The old payload (900 × "x" frames, a third of web's stored bytes), for
    # the record; not part of the ratios. OLD_PAYLOAD=1 runs it.
    dbp=$(measure reference-repeat "${dbw[@]}" -payload repeat)
    echo "run $i: reference, old payload (not in the ratios): ${dbp//$'\n'/ | }"
    olds_p+=("$(head -1 <<<"$dbp" | field tx/s)")
  fi
  unset res
done

echo "== accept flow (quote, offer, accept), c=$ACCEPT_C"
acc=""
for i in $(seq 1 "$RUNS"); do
  a=$(measure accept-flow "${load[@]}" -scenario accept -c "$ACCEPT_C" -runs 1)
  echo "$a"
  acc+="$a"$'\n'
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# cpu_median NAME: the median of each part of NAME's cpu lines.
cpu_median() {
  local name=$1 f out="" v
  for f in client web bare postgres redis total; do
    v=$(median $(grep "^cpu $name " <<<"$cpus" | field "$f"))
    out+=" $f=$v"
  done
  echo "cpu $name (median of $RUNS)$out ms/op"
}
echo
echo "== medians of $RUNS runs ($DURATION each), c=$C (users=$(( DB_USERS == 0 ? (C < 200 ? C : 200) : DB_USERS )) marks=$MARKS conns=$DB_CONNS tx=$TX payload=$PAYLOAD)"
echo "reference tx/s=$(median "${refs[@]}")  bare HTTP writer req/s=$(median "${bares[@]}")  POST quote req/s=$(median "${quotes[@]}")"
echo "POST quote ÷ reference=$(median "${r_qr[@]}")  bare ÷ reference=$(median "${r_br[@]}") (the ceiling of an HTTP service with its load generator on these cores)  POST quote ÷ bare=$(median "${r_qb[@]}")"
cpu_median reference
cpu_median bare-http
cpu_median post-quote
if (( ${#olds[@]} > 0 )); then echo "reference, one user (old shape): tx/s=$(median "${olds[@]}")  POST quote ÷ it=$(ratio "$(median "${quotes[@]}")" "$(median "${olds[@]}")")"; fi
if (( ${#olds_p[@]} > 0 )); then echo "reference, old payload (repeat): tx/s=$(median "${olds_p[@]}")  POST quote ÷ it=$(ratio "$(median "${quotes[@]}")" "$(median "${olds_p[@]}")")"; fi
flows=()
while read -r line; do flows+=("$(field ops/s <<<"$line")"); done < <(grep '^scenario=accept' <<<"$acc")
echo "accept flows/s=$(median "${flows[@]}") (3 requests each)"
