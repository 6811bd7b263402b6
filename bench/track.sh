#!/bin/sh
# Live-tracking load (issue 21, place.md §6 "Cost"): BENCH_DRIVERS drivers (1000) with an active
# delivery each send one location frame a second to one worker for BENCH_SECONDS (60); prints
# publish→receipt on the clients' sockets, trail rows ÷ updates, worker CPU per update.
# Needs PostgreSQL and Redis on loopback.
set -e
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/0}"
export TEST_DATABASE_URL TEST_REDIS_URL BENCH_TRACK=1
exec go test -count=1 -timeout 10m -v -run TestTrackLoad ./bench/track/ 2>&1 | grep -E 'FIGURE|last worker error|^(--- |ok|FAIL)'
