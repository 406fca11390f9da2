#!/usr/bin/env bash
# Runs the whole test suite against the real stack (installing and starting what is
# missing): formatting, lints, unit tests and integration tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

start_infrastructure
install_python_client
export ORDERFLOW_PYTHON="$PY_VENV/bin/python"
export ORDERFLOW_KAFKA_LIBS="$KAFKA_LIBS"
export ORDERFLOW_REGISTRY_JAR="$APICURIO_JAR" ORDERFLOW_REGISTRY_JAVA="$REGISTRY_JAVA"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://orderflow:orderflow@127.0.0.1:$PG_PORT/postgres}"

# Topics and databases left behind by earlier runs (topics are kept for good, ADR 0010).
kafka_java scripts/kafka/DeleteTopics.java "127.0.0.1:$KAFKA_PORT" 'orders\.events\.(test|pj|e2e)-.*'

psql -q "$ORDERFLOW_DATABASE_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'cs\_test\_%' OR datname LIKE 'qa\_test\_%' OR datname LIKE 'pj\_%' OR datname LIKE 'rm\_test\_%'" \
  | while read -r db; do psql -q "$ORDERFLOW_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" || true; done

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
log "cargo test"
results="$STACK_DIR/test-results.log"
mkdir -p "$STACK_DIR"
# Failures must not end the script (set -e) before the summary; pipefail gives cargo's status.
status=0
cargo test --locked --workspace -- --test-threads "${TEST_THREADS:-4}" 2>&1 | tee "$results" || status=$?
# One closing line for the whole workspace (cargo ends on the last crate's doc-tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$results"
exit "$status"
