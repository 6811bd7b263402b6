#!/usr/bin/env bash
# Placed new_quotes sockets (issue 20, place.md §4): one web and WORKERS
# workers as in production (DEBUG=false, JWKS verification, PostgreSQL, a
# Redis of its own on BASE_PORT+50), then the load tool's placed-fanout:
# SOCKETS sockets spread over the workers, each its own user placed in one of
# TOWNS towns 50 km apart, EVENTS quotes INTERVAL apart alternating a quote
# picked up at a random town's centre and one without a pickup. Prints the
# tool's report: per kind expected / received / missing / outside the area,
# p50/p99/max from the POST being sent, and the workers' CPU per quote of
# each kind (minus the idle rate) beside the in-range share. Everything it
# starts it stops (by pid); it drops the database it made. Loopback only.
#
#   flock /work/bench.lock bash bench/placed.sh                      # 10,000 sockets, 100 towns, 1 worker
#   WORKERS=3 SOCKETS=18000 flock /work/bench.lock bash bench/placed.sh
#   SOCKETS=1000 EVENTS=6 bash bench/placed.sh                       # a quick check
#
# One tool process holds every socket: SOCKETS ≤ 18,900 under the sandbox's
# 20,000-descriptor hard limit (the 60k of bench/cluster.sh needs one tool
# per worker; not done here).
set -euo pipefail

SOCKETS=${SOCKETS:-10000}
WORKERS=${WORKERS:-1}
TOWNS=${TOWNS:-100}
EVENTS=${EVENTS:-40}
INTERVAL=${INTERVAL:-500ms}
RADIUS=${RADIUS:-10}
DIALERS=${DIALERS:-64}
DB_CONNS=${DB_CONNS:-10}
BASE_PORT=${BASE_PORT:-18300}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}

if (( SOCKETS < 1 || SOCKETS > 18900 )); then echo "SOCKETS must be 1..18900" >&2; exit 2; fi
if (( WORKERS < 1 || WORKERS > 4 )); then echo "WORKERS must be 1..4" >&2; exit 2; fi

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-placed.XXXXXX)
db="hermez_placed_$$_$RANDOM"
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== $(date -u +%FT%TZ) sockets=$SOCKETS workers=$WORKERS towns=$TOWNS events=$EVENTS interval=$INTERVAL load=$(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$root" && go build -o "$work/web" ./cmd/web && go build -o "$work/worker" ./cmd/worker && go build -o "$work/load" ./bench/cmd/load)
cd "$work"

rport=$((BASE_PORT + 50))
mkdir -p redis
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" --logfile redis.log &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
jwks="127.0.0.1:$((BASE_PORT + 40))"
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 3h >jwks.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="$PG_URL/$db?sslmode=disable" REDIS_URL="redis://127.0.0.1:$rport/0" DEBUG=false SECRET_KEY \
  CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 \
  THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0 \
  DATABASE_MAX_CONNECTIONS="$DB_CONNS" QUOTE_RADIUS_KM="$RADIUS"
./web migrate 2>>migrate.log && ./web seed 2>>migrate.log
PORT=$BASE_PORT ./web 2>web.log & pids+=($!)
web="http://127.0.0.1:$BASE_PORT"
targets=() worker_pids=() metrics=()
for i in $(seq 0 $((WORKERS - 1))); do
  p=$((BASE_PORT + 10 + i)); m=$((BASE_PORT + 20 + i))
  PORT=$p METRICS_PORT=$m ./worker 2>"worker$i.log" & pids+=($!); worker_pids+=($!)
  targets+=("ws://127.0.0.1:$p"); metrics+=("http://127.0.0.1:$m/metrics")
done
for u in "$web" "${targets[@]/ws:/http:}"; do
  for _ in $(seq 1 200); do curl -fsS "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$u/readyz" >/dev/null || { echo "$u not ready" >&2; tail -5 ./*.log >&2; exit 1; }
done

# The generator's GC is not what is measured: fewer collections leave the cores to the servers.
GOGC=400 ./load -issuer "http://$jwks" -dev-key issuer/dev-jwt.pem -target "$web" \
  -scenario placed-fanout -ws-targets "$(IFS=,; echo "${targets[*]}")" -pids "$(IFS=,; echo "${worker_pids[*]}")" \
  -sockets "$SOCKETS" -towns "$TOWNS" -radius-km "$RADIUS" -events "$EVENTS" -interval "$INTERVAL" \
  -dialers "$DIALERS" -settle 3s -event-wait 30s -open-timeout 10m -json | tee load.out
for w in "${metrics[@]}"; do
  echo "== $w: $(curl -fsS "$w" 2>/dev/null | grep -E '^hermez_(ws_placed_moves_total|ws_closed_total|ws_slow_closed_total|ws_messages_dropped_total|broker_reconnects_total)' | tr '\n' ' ')"
done
grep -h '"level":"ERROR"' ./*.log | head -5 || true
echo "== $(date -u +%FT%TZ) done load=$(cut -d' ' -f1-3 /proc/loadavg)"
