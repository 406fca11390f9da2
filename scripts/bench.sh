#!/usr/bin/env bash
# The benchmark (issue 6, docs/performance.md). Installs and starts what is missing
# (a running Kafka broker, schema registry, Postgres and Redis are reused), builds the
# release binaries, then runs `bench run`. That starts the orderflow services
# itself on a fresh topic (bench.<run id>.*), database and Redis prefix, so neither
# earlier runs nor a running local stack share its log or state, and writes
# bench/results/<time>.{md,json} and bench/results/latest.{md,json}.
#
#   scripts/bench.sh                                  # the full run, about 12 minutes
#   scripts/bench.sh --seconds 5 --backlog-events 100000 --startup-orders 100000   # quick
#
# The services create topics with unlimited retention (ADR 0010), so each run deletes its
# own topics at the end.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

start_infrastructure
log "building the release binaries"
cargo build --release --locked --bins
# stripe-mock, the card processor of the fulfilment step (time from place-order to confirmed).
install_stripe_mock
export BENCH_STRIPE_MOCK="$STRIPE_MOCK_BIN"
export BENCH_BROKER="${BENCH_BROKER:-Apache Kafka $KAFKA_VERSION (KRaft, one node on this machine, ${KAFKA_HEAP_OPTS%% -XX*})}"
# The run creates a database of its own and starts the services on it, under a Redis key
# prefix of its own (bench:<run id>:), so it logs in as the stack's admins, not as the
# services' users (docs/security.md).
export ORDERFLOW_DATABASE_URL="$ADMIN_DATABASE_URL" ORDERFLOW_REDIS_URL="$ADMIN_REDIS_URL"
exec target/release/bench run "$@"
