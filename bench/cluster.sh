#!/usr/bin/env bash
# The scale run of issue 15: two web processes and three workers on a Redis
# Cluster of three masters (MODE=cluster) or on one Redis (MODE=single), with
# sockets spread over the three workers, then
#   fanout: one quote_created to every socket (new_quotes), FANOUT_EVENTS times
#           1 s apart: p50/p99/max from the POST being sent, missing receipts;
#   fanout-bare: the same as fanout with the same listeners (socket paths,
#           counts, three listener processes), posters and timing, but the
#           sockets are held by three bare fan-out servers instead of the
#           workers (load -serve-bare-ws: the event reaches them from the same
#           broker channel as the workers, and each writes the frame's bytes as
#           one websocket.PreparedMessage to every socket it holds in a plain
#           loop): the machine's limit of the fan-out at this scale;
#   fanout-bare-split: the same, each bare server splitting its sockets over
#           GOMAXPROCS goroutines (contiguous shares) per event.
#           The workers ping each socket every 25 s (2,400 pings a second at
#           3 × 19,900 sockets, and as many pongs); the bare servers do not,
#           unless BARE_PING=25s (then spread over the interval like a worker).
#           The fanout scenarios alternate run by run, and the summary prints
#           the ratio of their medians (fanout ÷ each bare one).
#   rate:   RATE quotes/s for DURATION, posted through both web processes as
#           users whose user_quotes_ groups have ~GROUP_SIZE sockets spread over
#           the workers: delivered, lost, p99, CPU of each Redis node.
# Each scenario runs RUNS times (all fanout runs first, the fanout scenarios
# alternating run by run: the rate runs leave pending quotes that every
# new_quotes snapshot would carry). Everything it
# starts it stops (by pid); it drops the database it made. Loopback only; it
# never touches the machine's shared Redis (its own redis-server processes on
# BASE_PORT+50..52). Run it under the benchmark lock on a shared machine:
#
#   flock /work/bench.lock bash bench/cluster.sh                 # cluster, 3 × 19,900 sockets
#   MODE=single flock /work/bench.lock bash bench/cluster.sh     # the same on one Redis
#   SOCKETS_PER_WORKER=2000 RUNS=1 bash bench/cluster.sh         # a quick check
#   SCENARIOS='fanout fanout-bare fanout-bare-split' RUNS=2 flock /work/bench.lock bash bench/cluster.sh   # hub ÷ bare limit
#
# One descriptor per socket on both sides: each worker and each listener
# process stays under the 20,000-descriptor hard limit of the sandbox
# (SOCKETS_PER_WORKER ≤ 19,900 leaves room for listeners, PostgreSQL and
# Redis connections).
set -euo pipefail

MODE=${MODE:-cluster}
RUNS=${RUNS:-3}
SOCKETS_PER_WORKER=${SOCKETS_PER_WORKER:-19900}
GROUP_SIZE=${GROUP_SIZE:-10}
RATE=${RATE:-200}
DURATION=${DURATION:-30s}
FANOUT_EVENTS=${FANOUT_EVENTS:-5}
FANOUT_SPACING=${FANOUT_SPACING:-3s}   # one event at a time: the next starts after the previous reached every socket
DB_CONNS=${DB_CONNS:-10}               # DATABASE_MAX_CONNECTIONS per process: 5 processes must fit max_connections (100) with room for others
SCENARIOS=${SCENARIOS:-fanout rate}
BASE_PORT=${BASE_PORT:-18100}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DIALERS=${DIALERS:-64}
BARE_PING=${BARE_PING:-0}              # the bare servers ping every socket this often, as workers do every 25s (0: never)

case $MODE in cluster|single) ;; *) echo "MODE must be cluster or single" >&2; exit 2 ;; esac
if (( RUNS < 1 || RUNS > 10 )); then echo "RUNS must be 1..10" >&2; exit 2; fi
if (( SOCKETS_PER_WORKER < 1 || SOCKETS_PER_WORKER > 19900 )); then echo "SOCKETS_PER_WORKER must be 1..19900" >&2; exit 2; fi

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t hermez-scale.XXXXXX)
db="hermez_scale_$$_$RANDOM"
pids=()
redis_pids=()
clk=$(getconf CLK_TCK)

cleanup() {
  for p in "${pids[@]}" "${redis_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" "${redis_pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  psql "$PG_URL/postgres?sslmode=disable" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [[ -n "${KEEP:-}" ]]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== $(date -u +%FT%TZ) mode=$MODE sockets=3x$SOCKETS_PER_WORKER runs=$RUNS load=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== building into $work"
(cd "$root" && go build -o "$work/web" ./cmd/web && go build -o "$work/worker" ./cmd/worker && go build -o "$work/load" ./bench/cmd/load)
cd "$work"

# --- Redis: three cluster masters, or one server, of our own.
rport=$((BASE_PORT + 50))
if [[ $MODE == cluster ]]; then
  addrs=()
  for i in 0 1 2; do
    p=$((rport + i)); mkdir -p "redis$i"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 --cluster-require-full-coverage no --save '' --appendonly no \
      --dir "$work/redis$i" --logfile redis.log &
    redis_pids+=($!)
    addrs+=("127.0.0.1:$p")
  done
  for a in "${addrs[@]}"; do
    for _ in $(seq 1 100); do redis-cli -h 127.0.0.1 -p "${a#*:}" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >cluster-create.log
  for _ in $(seq 1 300); do
    ok=0
    for a in "${addrs[@]}"; do redis-cli -p "${a#*:}" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1)); done
    (( ok == 3 )) && break
    sleep 0.1
  done
  export REDIS_CLUSTER_URL="redis://${addrs[0]}?addr=${addrs[1]}&addr=${addrs[2]}"
  unset REDIS_URL
  echo "== redis cluster: ${addrs[*]}"
else
  mkdir -p redis0
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis0" --logfile redis.log &
  redis_pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  unset REDIS_CLUSTER_URL
  echo "== one redis: 127.0.0.1:$rport"
fi

# --- Database, stand-in Clerk, processes as in production.
psql "$PG_URL/postgres?sslmode=disable" -qc "CREATE DATABASE $db"
jwks="127.0.0.1:$((BASE_PORT + 40))"
./load -serve-jwks "$jwks" -dev-key issuer/dev-jwt.pem -serve-for 3h >jwks.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "http://$jwks/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done
SECRET_KEY="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="$PG_URL/$db?sslmode=disable" DEBUG=false SECRET_KEY REDIS_PREFIX="scale$$:" \
  CLERK_FRONTEND_API_URL="http://$jwks" CLERK_AUTHORIZED_PARTIES=http://localhost:4321 \
  THROTTLE_USER_WRITES=0 THROTTLE_QUOTES=0 THROTTLE_ANON=0 WS_MAX_SOCKETS_PER_USER=0 \
  DATABASE_MAX_CONNECTIONS="$DB_CONNS"
./web migrate 2>>migrate.log && ./web seed 2>>migrate.log
webs=() workers=() worker_pids=() web_pids=()
for i in 0 1; do
  p=$((BASE_PORT + i)); PORT=$p ./web 2>"web$i.log" & pids+=($!); web_pids+=($!); webs+=("http://127.0.0.1:$p")
done
for i in 0 1 2; do
  p=$((BASE_PORT + 10 + i)); PORT=$p ./worker 2>"worker$i.log" & pids+=($!); worker_pids+=($!); workers+=("ws://127.0.0.1:$p")
done
# The bare fan-out servers, on the workers' broker and prefix: three with one
# loop per event (fanout-bare, logs bare0-2.log) and three with GOMAXPROCS
# goroutines per event (fanout-bare-split, bare-split0-2.log), each set only
# when its scenario runs.
bares=() bare_pids=() splits=() split_pids=()
for i in 0 1 2; do
  if [[ " $SCENARIOS " == *" fanout-bare "* ]]; then
    p=$((BASE_PORT + 20 + i))
    ./load -serve-bare-ws "127.0.0.1:$p" -bare-writers 1 -bare-ping "$BARE_PING" -serve-for 3h 2>"bare$i.log" & pids+=($!); bare_pids+=($!); bares+=("ws://127.0.0.1:$p")
  fi
  if [[ " $SCENARIOS " == *" fanout-bare-split "* ]]; then
    p=$((BASE_PORT + 25 + i))
    ./load -serve-bare-ws "127.0.0.1:$p" -bare-writers 0 -bare-ping "$BARE_PING" -serve-for 3h 2>"bare-split$i.log" & pids+=($!); split_pids+=($!); splits+=("ws://127.0.0.1:$p")
  fi
done
for u in "${webs[@]}" "${workers[@]/ws:/http:}" "${bares[@]/ws:/http:}" "${splits[@]/ws:/http:}"; do
  for _ in $(seq 1 200); do curl -fsS "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$u/readyz" >/dev/null || { echo "$u not ready" >&2; tail -5 ./*.log >&2; exit 1; }
done
# The generator's GC is not what is measured: fewer collections leave the cores to the servers.
L=(env GOGC=400 ./load -issuer "http://$jwks" -dev-key issuer/dev-jwt.pem -dialers "$DIALERS")

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# percentiles of one latency per line (ms): p50 p99 max count
pct() { sort -n "$@" | awk '{a[NR]=$1} END {if (NR==0) {print "- - - 0"; exit} i50=int(NR*0.50+0.999999); i99=int(NR*0.99+0.999999); printf "%.1f %.1f %.1f %d\n", a[i50], a[i99], a[NR], NR}'; }

# The server's part of a fan-out wait: per event and worker, ms from the POST
# being sent to that worker's last write of the event (its "fan-out" log
# line, written when the event's last socket was written) and to its
# receiving the event (that minus the line's took_ms). Prints
# "<quote id> <last write ms> <received ms>" per line.
server_ms() { # events-file worker-log...
  local ev=$1; shift
  grep -h '"msg":"fan-out"' "$@" | sed -n 's/.*"time":"\([^"]*\)".*"resource":"quote:\([^"]*\)".*"took_ms":\([0-9.]*\).*/\2 \1 \3/p' |
    while read -r id t took; do echo "$id $(date -d "$t" +%s%N) $took"; done |
    awk 'NR == FNR {sent[$1] = $3; next} ($1 in sent) {ms = ($2 - sent[$1]) / 1e6; printf "%s %.1f %.1f\n", $1, ms, ms - $3}' "$ev" -
}

total=$((3 * SOCKETS_PER_WORKER))
users_rate=$(( (total + GROUP_SIZE - 1) / GROUP_SIZE ))
summary=()

run_one() { # scenario run
  local sc=$1 run=$2 dir="run-$1-$2"
  mkdir -p "$dir"
  local path users
  if [[ $sc == fanout* ]]; then path=/ws/deliveries/new-quotes/; users=200; else path=/ws/deliveries/users/me/quotes/; users=$users_rate; fi
  # Who holds the sockets: the workers, or the bare servers (fanout-bare).
  local -a targets=("${workers[@]}") spids=("${worker_pids[@]}") slogs=(worker*.log)
  case $sc in
    fanout-bare) targets=("${bares[@]}") spids=("${bare_pids[@]}") slogs=(bare[0-9].log) ;;
    fanout-bare-split) targets=("${splits[@]}") spids=("${split_pids[@]}") slogs=(bare-split[0-9].log) ;;
  esac
  local prefix="scale$run${sc//-/}"
  local lp=() ready=()
  for i in 0 1 2; do
    "${L[@]}" -scenario sockets-listen -ws-target "${targets[$i]}" -ws-path "$path" -sockets "$SOCKETS_PER_WORKER" \
      -users "$users" -user-prefix "$prefix" -pid "${spids[$i]}" -settle 10s -event-wait 10s \
      -ready-file "$dir/ready$i" -done-file "$dir/done" -events-file "$dir/events0,$dir/events1" \
      -samples-out "$dir/samples$i" -listen-max 15m -open-timeout 10m >"$dir/listen$i.out" 2>&1 &
    lp+=($!); ready+=("$dir/ready$i")
  done
  # Posters wait for every listener themselves; the CPU window opens then.
  for _ in $(seq 1 6000); do [[ -e $dir/ready0 && -e $dir/ready1 && -e $dir/ready2 ]] && break; sleep 0.1; done
  local -a r0=() w0=() l0=()
  for p in "${redis_pids[@]}"; do r0+=("$(ticks "$p")"); done
  for p in "${spids[@]}" "${web_pids[@]}"; do w0+=("$(ticks "$p")"); done
  for p in "${lp[@]}"; do l0+=("$(ticks "$p")"); done
  local t0; t0=$(date +%s.%N)
  local pp=()
  if [[ $sc == fanout* ]]; then
    : >"$dir/events1"
    "${L[@]}" -scenario post-quotes -target "${webs[0]}" -events "$FANOUT_EVENTS" -spacing "$FANOUT_SPACING" -user-prefix "$prefix" \
      -wait-ready "$(IFS=,; echo "${ready[*]}")" -events-file "$dir/events0" -done-file "$dir/done0" >"$dir/post0.out" 2>&1 &
    pp+=($!)
  else
    for i in 0 1; do
      "${L[@]}" -scenario post-quotes -target "${webs[$i]}" -rate "$(awk -v r="$RATE" 'BEGIN {print r / 2}')" \
        -duration "$DURATION" -c 64 -users "$users" -user-prefix "$prefix" \
        -wait-ready "$(IFS=,; echo "${ready[*]}")" -events-file "$dir/events$i" -done-file "$dir/done$i" >"$dir/post$i.out" 2>&1 &
      pp+=($!)
    done
  fi
  local ok=1
  for p in "${pp[@]}"; do wait "$p" || ok=0; done
  # Frames of the last events are still being delivered: keep the CPU window open a little.
  if [[ $sc == fanout* ]]; then sleep "${FANOUT_SPACING%s}"; else sleep 1; fi
  local t1; t1=$(date +%s.%N)
  local -a r1=() w1=() l1=()
  for p in "${redis_pids[@]}"; do r1+=("$(ticks "$p")"); done
  for p in "${spids[@]}" "${web_pids[@]}"; do w1+=("$(ticks "$p")"); done
  for p in "${lp[@]}"; do l1+=("$(ticks "$p")"); done
  touch "$dir/done"
  for p in "${lp[@]}"; do wait "$p" || ok=0; done
  cat "$dir"/post*.out "$dir"/listen*.out | sed "s/^/  [$sc $run] /"
  (( ok )) || { echo "a load process failed (see above)" >&2; return 1; }
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  local cpu_r="" cpu_p="" cpu_l=""
  for i in "${!redis_pids[@]}"; do cpu_r+=$(awk -v a="${r0[$i]}" -v b="${r1[$i]}" -v s="$secs" -v c="$clk" 'BEGIN {printf "%.0f%% ", 100 * (b - a) / c / s}'); done
  for i in "${!w0[@]}"; do cpu_p+=$(awk -v a="${w0[$i]}" -v b="${w1[$i]}" -v s="$secs" -v c="$clk" 'BEGIN {printf "%.0f%% ", 100 * (b - a) / c / s}'); done
  for i in "${!l0[@]}"; do cpu_l+=$(awk -v a="${l0[$i]}" -v b="${l1[$i]}" -v s="$secs" -v c="$clk" 'BEGIN {printf "%.0f%% ", 100 * (b - a) / c / s}'); done
  local expected received missing
  expected=$(cat "$dir"/listen*.out | grep -o 'expected=[0-9]*' | awk -F= '{s+=$2} END {print s+0}' || true)
  received=$(cat "$dir"/listen*.out | grep -o 'received=[0-9]*' | awk -F= '{s+=$2} END {print s+0}' || true)
  missing=$(cat "$dir"/listen*.out | grep -o 'missing=[0-9]*' | awk -F= '{s+=$2} END {print s+0}' || true)
  local sockets; sockets=$(cat "$dir"/listen*.out | grep -o 'sockets=[0-9]* events' | awk -F'[= ]' '{s+=$2} END {print s+0}' || true)
  # Memory per socket is only meaningful on fresh workers (the first run of the first scenario).
  local rss; rss=$(grep -ho 'rss_per_socket=-*[0-9.]*KB' "$dir"/listen*.out | sed 's/rss_per_socket=//' | tr '\n' ' ' || true)
  local posted; posted=$(cat "$dir"/post*.out | grep -o 'posted=[0-9]*' | awk -F= '{s+=$2} END {print s+0}' || true)
  read -r p50 p99 max n < <(cat "$dir"/samples* | pct)
  # The server's part (fanout): each worker's last write of each event, from
  # the POST being sent; per event the latest of the three workers.
  local server=""
  if [[ $sc == fanout* ]]; then
    server_ms "$dir/events0" "${slogs[@]}" >"$dir/server_ms" || true
    local s50 s99 smax sn e50 e99 emax en a50 a99 amax an
    read -r a50 a99 amax an < <(awk '{print $3}' "$dir/server_ms" | pct)
    read -r s50 s99 smax sn < <(awk '{print $2}' "$dir/server_ms" | pct)
    read -r e50 e99 emax en < <(awk '{if ($2 > m[$1]) m[$1] = $2} END {for (k in m) print m[k]}' "$dir/server_ms" | pct)
    # (no " max=" inside: the medians below read the line's own p50/p99/max)
    server=" worker_received=p50:${a50}ms,max:${amax}ms last_write_per_worker=p50:${s50}ms,max:${smax}ms,n:$sn last_write_per_event=p50:${e50}ms,max:${emax}ms,n:$en"
  fi
  local who=worker; [[ $sc == fanout-bare* ]] && who=bare
  # CPU per delivered frame over the window (idle time included): the three
  # socket servers together (the first three of w0/w1), the three listeners.
  local per_frame
  per_frame=$(awk -v a="${w0[*]:0:3}" -v b="${w1[*]:0:3}" -v la="${l0[*]}" -v lb="${l1[*]}" -v n="$received" -v c="$clk" -v who="$who" '
    function sum(s,   x, i, t) { split(s, x, " "); for (i in x) t += x[i]; return t }
    BEGIN { if (n > 0) printf "%s_us_per_frame=%.1f listener_us_per_frame=%.1f", who, (sum(b) - sum(a)) / c * 1e6 / n, (sum(lb) - sum(la)) / c * 1e6 / n }')
  local line="mode=$MODE scenario=$sc run=$run sockets=$sockets posted=$posted expected=$expected received=$received missing=$missing p50=${p50}ms p99=${p99}ms max=${max}ms${server} ${per_frame} window=${secs%.*}s redis_cpu=[ ${cpu_r}] ${who}_cpu+web_cpu=[ ${cpu_p}] listener_cpu=[ ${cpu_l}] ${who}_rss_per_socket_KB=[ ${rss}] load1=$(cut -d' ' -f1 /proc/loadavg)"
  echo "$line"
  summary+=("$line")
  # Why a receipt could be missing: sockets the workers closed (by code) and broker resets so far.
  [[ $sc == fanout-bare* ]] && return 0
  for w in "${workers[@]/ws:/http:}"; do
    echo "  [$sc $run] $w: $(curl -fsS "$w/metrics" 2>/dev/null | grep -E '^hermez_(ws_closed_total|ws_slow_closed_total|ws_messages_dropped_total|ws_stale_frames_dropped_total|broker_reconnects_total|broker_messages_dropped_total|ws_messages_sent_total)' | tr '\n' ' ')"
  done
}

# The fanout scenarios alternate run by run (fanout 1, fanout-bare 1, fanout
# 2, ...) so that both see the same machine; then the others, each RUNS times.
fan=() rest=()
for sc in $SCENARIOS; do
  case $sc in
    fanout|fanout-bare|fanout-bare-split) fan+=("$sc") ;;
    rate) rest+=("$sc") ;;
    *) echo "unknown scenario $sc (fanout, fanout-bare, fanout-bare-split, rate)" >&2; exit 2 ;;
  esac
done
for run in $(seq 1 "$RUNS"); do
  for sc in "${fan[@]}"; do
    run_one "$sc" "$run"
    sleep 3
  done
done
for sc in "${rest[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    run_one "$sc" "$run"
    sleep 3
  done
done

echo "== worker RSS now: $(for p in "${worker_pids[@]}"; do printf '%sMiB ' $(( $(rss_kb "$p") / 1024 )); done)"
echo "== summary ($MODE)"
printf '%s\n' "${summary[@]}"
for sc in $SCENARIOS; do
  printf '%s\n' "${summary[@]}" | grep "scenario=$sc " | awk -v sc="$sc" -v mode="$MODE" '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "p50" || kv[1] == "p99" || kv[1] == "max" || kv[1] == "missing") { v = kv[2]; sub("ms", "", v); a[kv[1], NR] = v + 0 } } n = NR }
    function med(k,   i, j, t, x) { for (i = 1; i <= n; i++) x[i] = a[k, i]; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return x[int((n + 1) / 2)] }
    END { if (n) printf "MEDIAN mode=%s scenario=%s runs=%d p50=%.1fms p99=%.1fms max=%.1fms missing=%d\n", mode, sc, n, med("p50"), med("p99"), med("max"), med("missing") }'
done | tee medians.txt
# The hub against each bare limit, from the medians of the alternated runs.
for bare in fanout-bare fanout-bare-split; do
  grep -q 'scenario=fanout ' medians.txt && grep -q "scenario=$bare " medians.txt || continue
  awk -v bare="$bare" -v mode="$MODE" -v ping="$BARE_PING" '
    function kv(a,   i, f, v) { for (i = 1; i <= NF; i++) { split($i, f, "="); v = f[2]; sub("ms", "", v); a[f[1]] = v } }
    $3 == "scenario=fanout" { kv(h) }
    $3 == "scenario=" bare { kv(b) }
    END { printf "RATIO mode=%s fanout/%s p50=%.2f p99=%.2f max=%.2f (hub p50/p99 %s/%s ms, bare %s/%s ms, bare_ping=%s)\n",
            mode, bare, h["p50"] / b["p50"], h["p99"] / b["p99"], h["max"] / b["max"], h["p50"], h["p99"], b["p50"], b["p99"], ping }' medians.txt
done
