#!/usr/bin/env bash
# Issue 23 §4: four web and four worker processes, every one through ONE
# PgBouncer in transaction mode (DATABASE_POOLER=transaction) whose pool to
# PostgreSQL is POOL (20) server connections, under load at once:
#   web0, web3: the accept flow (quote, offer, accept), -c 8 each;
#   web1: POST quote, -c 16;  web2: GET me, -c 16;
#   each worker: publish-latency (a socket on the client's quotes, EVENTS
#   quotes through web 0-3, every frame expected).
# Prints every load line, the errors summed, PgBouncer's own counters
# (SHOW STATS/POOLS) and each process's error log lines. Loopback only; it
# starts its own PgBouncer on BASE_PORT+30 (as postgres when run as root),
# uses the shared Redis with a prefix of its own, stops what it started (by
# pid) and drops its database.
#
#   flock /work/bench.lock bash bench/pgbouncer.sh        # DURATION=20s POOL=20 DB_CONNS=20
set -euo pipefail

DURATION=${DURATION:-20s}
POOL=${POOL:-20}
DB_CONNS=${DB_CONNS:-20}   # DATABASE_MAX_CONNECTIONS of each process: 8 × 20 = 160 client connections on 20 server ones
EVENTS=${EVENTS:-100}
BASE_PORT=${BASE_PORT:-18300}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS=${REDIS:-redis://127.0.0.1:6379/0}
PGBOUNCER=${PGBOUNCER:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-pgb.XXXXXX)
db="hermez_pgb_$$_$RANDOM"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  [[ -f $work/pgbouncer.pid ]] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  sleep 1
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== $(date -u +%FT%TZ) 4 webs + 4 workers through one PgBouncer (transaction, pool $POOL) load=$(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$root" && go build -o "$work/web" ./cmd/web && go build -o "$work/worker" ./cmd/worker && go build -o "$work/load" ./bench/cmd/load)
cd "$work"

psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
pgb=$((BASE_PORT + 30))
printf '%s\n' "[databases]" "* = host=127.0.0.1 port=5432" "[pgbouncer]" "listen_addr = 127.0.0.1" "listen_port = $pgb" \
  "unix_socket_dir =" "auth_type = trust" "auth_file = $work/userlist.txt" "admin_users = postgres" \
  "pool_mode = transaction" "default_pool_size = $POOL" "max_client_conn = 1000" \
  "logfile = $work/pgbouncer.log" "pidfile = $work/pgbouncer.pid" >pgbouncer.ini
echo '"postgres" ""' >userlist.txt
chmod 755 "$work" && chmod 644 pgbouncer.ini userlist.txt
if [[ $(id -u) == 0 ]]; then chown postgres "$work"; su postgres -s /bin/sh -c "ulimit -n 4096; '$PGBOUNCER' -d '$work/pgbouncer.ini'"
else "$PGBOUNCER" -d pgbouncer.ini; fi
for _ in $(seq 1 50); do psql -h 127.0.0.1 -p "$pgb" -U postgres -d "$db" -qAtc 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done

jwks="127.0.0.1:$((BASE_PORT + 40))"
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 3h >jwks.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pgb/$db?sslmode=disable" DATABASE_POOLER=transaction \
  REDIS_URL="$REDIS" REDIS_PREFIX="pgb$$:" DEBUG=false SECRET_KEY DATABASE_MAX_CONNECTIONS="$DB_CONNS" \
  CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 \
  THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0
./web migrate 2>>migrate.log && ./web seed 2>>migrate.log   # through the pooler too
webs=() workers=()
for i in 0 1 2 3; do
  p=$((BASE_PORT + i)); PORT=$p ./web 2>"web$i.log" & pids+=($!); webs+=("http://127.0.0.1:$p")
  p=$((BASE_PORT + 10 + i)); PORT=$p ./worker 2>"worker$i.log" & pids+=($!); workers+=("ws://127.0.0.1:$p")
done
for u in "${webs[@]}" "${workers[@]/ws:/http:}"; do
  for _ in $(seq 1 300); do curl -fsS "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$u/readyz" >/dev/null || { echo "$u not ready" >&2; tail -5 ./*.log >&2; exit 1; }
done
L=(env GOGC=400 ./load -issuer "http://$jwks" -dev-key issuer/dev-jwt.pem -warmup 1s)

lp=()
"${L[@]}" -target "${webs[0]}" -scenario accept -c 8 -duration "$DURATION" -user-prefix pgbA >load-accept0.out 2>&1 & lp+=($!)
"${L[@]}" -target "${webs[1]}" -scenario quote -c 16 -duration "$DURATION" -user-prefix pgbQ >load-quote1.out 2>&1 & lp+=($!)
"${L[@]}" -target "${webs[2]}" -scenario me -c 16 -duration "$DURATION" -user-prefix pgbM >load-me2.out 2>&1 & lp+=($!)
"${L[@]}" -target "${webs[3]}" -scenario accept -c 8 -duration "$DURATION" -user-prefix pgbB >load-accept3.out 2>&1 & lp+=($!)
for i in 0 1 2 3; do
  "${L[@]}" -target "${webs[$i]}" -ws-target "${workers[$i]}" -scenario publish-latency -events "$EVENTS" -interval 150ms \
    -user-prefix "pgbP$i" >"load-socket$i.out" 2>&1 & lp+=($!)
done
ok=1
for p in "${lp[@]}"; do wait "$p" || ok=0; done
grep -h 'scenario=' load-*.out
errs=$(cat load-*.out | grep -o ' errors=[0-9]*' | awk -F= '{s+=$2} END {print s+0}')
missing=$(cat load-*.out | grep -o ' missing=[0-9]*' | awk -F= '{s+=$2} END {print s+0}')
echo "SUMMARY http_errors=$errs socket_frames_missing=$missing load_processes_ok=$ok"
echo "== pgbouncer (SHOW POOLS / SHOW STATS, database $db)"
psql -h 127.0.0.1 -p "$pgb" -U postgres -d pgbouncer -c 'SHOW POOLS' | grep -E "database|$db" || true
psql -h 127.0.0.1 -p "$pgb" -U postgres -d pgbouncer -c 'SHOW STATS' | grep -E "database|$db" || true
echo "== server connections to $db now: $(psql "$PG_URL/postgres?sslmode=disable" -qAtc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")"
echo "== error lines in the processes' logs: $(cat web*.log worker*.log | grep -c '"level":"ERROR"' || true)"
cat web*.log worker*.log | grep '"level":"ERROR"' | head -5 || true
(( ok )) || { echo "a load process failed" >&2; exit 1; }
