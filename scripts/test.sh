#!/usr/bin/env bash
# Runs the whole test suite against the real stack (installing and starting what is
# missing): formatting, lints, unit tests and integration tests.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

start_infrastructure
# The secured broker (SASL_SSL, SCRAM, ACLs) beside the plain one, for the tests of
# query-api/tests/e2e/secured.rs; exports ORDERFLOW_SECURE_KAFKA_DIR and _BROKERS.
# shellcheck source=scripts/kafka-secure.sh
source "$REPO_ROOT/scripts/kafka-secure.sh"
start_secure_kafka
install_python_client
export ORDERFLOW_PYTHON="$PY_VENV/bin/python"
# Schemathesis probes both APIs from their OpenAPI documents (query-api/tests/conformance).
install_schemathesis
export ORDERFLOW_SCHEMATHESIS="$PY_VENV/bin/schemathesis"
# Headless Chromium for the pages (query-api/tests/e2e/pages.rs).
install_browser_tools
ORDERFLOW_CHROMIUM="$(command -v chromium)"
export ORDERFLOW_CHROMIUM
# An SMTP server for the notifier's email tests.
install_mailpit
export ORDERFLOW_MAILPIT="$MAILPIT_BIN"
# stripe-mock, the card processor of the fulfilment tests (behind a fault-injecting proxy).
install_stripe_mock
export ORDERFLOW_STRIPE_MOCK="$STRIPE_MOCK_BIN"
# kubeconform and the Kubernetes schemas for deploy/k8s (query-api/tests/e2e/kubernetes.rs).
install_kubeconform
export ORDERFLOW_KUBECONFORM="$KUBECONFORM_BIN" ORDERFLOW_K8S_SCHEMAS="$K8S_SCHEMAS"
export ORDERFLOW_KAFKA_LIBS="$KAFKA_LIBS"
export ORDERFLOW_REGISTRY_JAR="$APICURIO_JAR" ORDERFLOW_REGISTRY_JAVA="$REGISTRY_JAVA"
# Tests create their databases as the stack's admin (not a superuser) and log in as the
# services' roles where they check what those may do; they use Redis as its admin, under
# key prefixes of their own (docs/security.md).
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$ADMIN_DATABASE_URL}"
export TEST_PROJECTOR_DATABASE_URL="${TEST_PROJECTOR_DATABASE_URL:-$(pg_url orderflow_projector postgres)}"
export TEST_QUERY_DATABASE_URL="${TEST_QUERY_DATABASE_URL:-$(pg_url orderflow_query postgres)}"
export TEST_NOTIFIER_DATABASE_URL="${TEST_NOTIFIER_DATABASE_URL:-$(pg_url orderflow_notifier postgres)}"
export TEST_FULFILMENT_DATABASE_URL="${TEST_FULFILMENT_DATABASE_URL:-$(pg_url orderflow_fulfilment postgres)}"
export TEST_PROJECTOR_REDIS_URL="${TEST_PROJECTOR_REDIS_URL:-$(redis_url orderflow_projector)}"
export TEST_QUERY_REDIS_URL="${TEST_QUERY_REDIS_URL:-$QUERY_REDIS_URL}"
export ORDERFLOW_REDIS_URL="$ADMIN_REDIS_URL"

# Topics and databases left behind by earlier runs (topics are kept for good, ADR 0010).
kafka_java scripts/kafka/DeleteTopics.java "127.0.0.1:$KAFKA_PORT" 'orders\.events\.(test|pj|e2e)-.*|notifications\.(outbound|dlq)\.test-.*|(inventory|payments)\.events\.test-.*'
kafka_java scripts/kafka/DeleteTopics.java "$ORDERFLOW_SECURE_KAFKA_BROKERS" 'orders\.(events|dlq)\.sec-.*|notifications\.(outbound|dlq)\.sec-.*' \
  "$SECURE_KAFKA_DIR/admin.properties"

psql -q "$TEST_DATABASE_URL" -Atc "SELECT datname FROM pg_database WHERE (datname LIKE 'cs\_test\_%' OR datname LIKE 'qa\_test\_%' OR datname LIKE 'pj\_%' OR datname LIKE 'rm\_test\_%' OR datname LIKE 'nt\_test\_%' OR datname LIKE 'ff\_test\_%') AND pg_has_role(datdba, 'MEMBER')" \
  | while read -r db; do psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" || true; done

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
# A short libFuzzer run of the event decoding on stable Rust (schemas/fuzz; longer on demand
# with scripts/fuzz.sh --seconds N). FUZZ_SECONDS=0 skips it.
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-30}"
fi
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
