#!/usr/bin/env bash
# GET scenario against its bare limit (issue 23 §2): web as in production
# (PostgreSQL, Redis, DEBUG=false, JSON logs, tokens verified against a JWKS
# the load tool serves; throttles as THROTTLE_* say, off by default as in
# run.sh) and the load tool's -serve-bare server, which fetched web's answer
# once and serves the same bytes from a plain net/http handler. They
# alternate ROUNDS times, one load run of DUR at saturation each (SCEN, C
# clients), so machine noise falls on both alike; each round prints the load
# line and the server's CPU per request (/proc/<pid>/stat), the end the
# medians and web ÷ bare.
#
#   bash bench/bare.sh                               # categories, c=64, 4 rounds of 10s
#   WEB=/tmp/b/web SCEN=me ROUNDS=3 bash bench/bare.sh
set -euo pipefail
SCEN=${SCEN:-categories}; C=${C:-64}; DUR=${DUR:-10s}; ROUNDS=${ROUNDS:-4}; PORT=${PORT:-18400}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-bare.XXXXXX); db="hermez_bare_$$_$RANDOM"; pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/load" ./bench/cmd/load)
if [[ -z "${WEB:-}" ]]; then (cd "$root" && go build -o "$work/web" ./cmd/web); WEB=$work/web; fi
export MIGRATE_ON_START=true PORT DATABASE_URL="$PG_URL/$db?sslmode=disable"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0} REDIS_PREFIX="bare$$:"
export THROTTLE_USER_WRITES=${THROTTLE_USER_WRITES:-0} THROTTLE_QUOTES=${THROTTLE_QUOTES:-0} \
  THROTTLE_ANON=${THROTTLE_ANON:-0} WS_MAX_SOCKETS_PER_USER=${WS_MAX_SOCKETS_PER_USER:-0}
cd "$work"
jwks=127.0.0.1:$((PORT + 1)) bare=127.0.0.1:$((PORT + 2))
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 6h >jwks.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DEBUG=false CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 SECRET_KEY
psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
"$WEB" migrate 2>>web.log && "$WEB" seed 2>>web.log || { tail -20 web.log; exit 1; }
"$WEB" 2>>web.log &
web_pid=$!; pids+=("$web_pid")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
lt=(-dev-key issuer/dev-jwt.pem -issuer "http://$jwks" -scenario "$SCEN")
./load -target "http://127.0.0.1:$PORT" "${lt[@]}" -serve-bare "$bare" -serve-for 6h >bare.log 2>&1 &
bare_pid=$!; pids+=("$bare_pid")
for _ in $(seq 1 100); do grep -q '^serving' bare.log 2>/dev/null && break; sleep 0.1; done
cat bare.log
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $SCEN c=$C, $ROUNDS rounds of $DUR, web $("$WEB" version 2>/dev/null || echo "$WEB")"
declare -A rates=([web]="" [bare]="") cpu=([web]="" [bare]="")
for r in $(seq 1 "$ROUNDS"); do
  for v in web bare; do
    if [[ $v == web ]]; then pid=$web_pid target="http://127.0.0.1:$PORT"; else pid=$bare_pid target="http://$bare"; fi
    t0=$(ticks "$pid")
    ./load -target "$target" "${lt[@]}" -duration "$DUR" -pause 1s -c "$C" -runs 1 >out.txt 2>&1 || true
    t1=$(ticks "$pid")
    res=$(grep '^scenario' out.txt | head -1 || true)
    ops=$(grep -o ' ops=[0-9]*' <<<"$res" | cut -d= -f2)
    us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v ops="${ops:-1}" 'BEGIN { printf "%.1f", t * 1e6 / hz / ops }')
    echo "round $r $v $res server_cpu_us/req=$us"
    rates[$v]+="$(grep -o 'req/s=[0-9.]*' <<<"$res" | cut -d= -f2) "
    cpu[$v]+="$us "
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { n = NR; if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
mw=$(median "${rates[web]}") mb=$(median "${rates[bare]}") cw=$(median "${cpu[web]}") cb=$(median "${cpu[bare]}")
echo "== CPU µs/req medians: web $cw (${cpu[web]% }), bare $cb (${cpu[bare]% }); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians: web $mw req/s (${rates[web]% }), bare $mb req/s (${rates[bare]% }), web ÷ bare = $(awk -v a="$mw" -v b="$mb" 'BEGIN { printf "%.3f", a / b }')"
