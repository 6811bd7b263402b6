#!/usr/bin/env bash
# Times `web import-django` of a generated Django database (bench/README.md,
# "Import from Django"). Usage: bench/import.sh [runs]  (default 3)
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres), the Django database
# $DJANGO_DB (default django_bench) made by bench/cmd/djangogen.
set -euo pipefail
runs=${1:-3}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
src="$pg/${DJANGO_DB:-django_bench}?sslmode=disable"
target=${TARGET_DB:-hermez_import_bench}
out=${OUT:-/tmp/import-bench}
mkdir -p "$out"
go build -o "$out/web" ./cmd/web
for i in $(seq 1 "$runs"); do
  psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $target" -c "CREATE DATABASE $target"
  export DATABASE_URL="$pg/$target?sslmode=disable" DEBUG=true
  "$out/web" migrate >/dev/null 2>&1 && "$out/web" seed >/dev/null 2>&1
  # Timed inside the lock: waiting for it does not count.
  flock "${BENCH_LOCK:-/work/bench.lock}" bash -c 'start=$(date +%s.%N); "$1" import-django --from "$2" >"$3.txt" 2>"$3.log"; rc=$?;
    echo "$start $(date +%s.%N)" >"$3.time"; exit $rc' _ "$out/web" "$src" "$out/run$i"
  read -r start end <"$out/run$i.time"
  printf 'run %d: %.1f s (wall of the process, import + verification; load1 %s)\n' "$i" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"
  grep -E '^ +(users|vehicles|users.current_vehicle|addresses|quotes|offers|deliveries|history|ratings) +[0-9]' "$out/run$i.txt"
done
# A second run on the last target: nothing to write.
flock "${BENCH_LOCK:-/work/bench.lock}" bash -c 'start=$(date +%s.%N); "$1" import-django --from "$2" >"$3.txt" 2>"$3.log"; rc=$?;
  echo "$start $(date +%s.%N)" >"$3.time"; exit $rc' _ "$out/web" "$src" "$out/rerun"
read -r start end <"$out/rerun.time"
printf 're-run (no-op): %.1f s; %s\n' "$(echo "$end - $start" | bc)" "$(tail -1 "$out/rerun.txt")"
