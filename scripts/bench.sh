#!/usr/bin/env bash
# The benchmark (issue 6, docs/performance.md). Installs and starts what is missing,
# restarts tansu so the run starts on an empty in-memory log, builds the release binaries,
# starts the dev registry, then runs `bench run`. That starts the orderflow services
# itself (fresh topic, database and Redis prefix) and writes
# bench/results/<time>.{md,json} and bench/results/latest.{md,json}.
#
#   scripts/bench.sh                                  # the full run, about 12 minutes
#   scripts/bench.sh --seconds 5 --backlog-events 100000 --startup-orders 100000   # quick
#
# BENCH_KEEP_BROKER=1 keeps a running broker. Note that restarting tansu with in-memory
# storage empties the log of any stack that uses it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

export ORDERFLOW_SCHEMA_REGISTRY_URL="${ORDERFLOW_SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081}"
export REGISTRY_DATABASE_URL="${REGISTRY_DATABASE_URL:-$ORDERFLOW_DATABASE_URL}"

start_infrastructure
if [ -z "${BENCH_KEEP_BROKER:-}" ] && [ -f "$STACK_DIR/tansu.pid" ]; then
  # tansu's in-memory storage slows down as it fills (ADR 0004): every run starts empty.
  log "restarting tansu for an empty log"
  stop_service tansu
  for _ in $(seq 1 50); do port_open "$KAFKA_PORT" || break; sleep 0.2; done
  start_tansu
fi
log "building the release binaries"
cargo build --release --locked --bins
start_service dev-registry "$ORDERFLOW_SCHEMA_REGISTRY_URL" target/release/orderflow-dev-registry
exec target/release/bench run "$@"
