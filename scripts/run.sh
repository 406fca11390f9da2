#!/usr/bin/env bash
# Installs what is missing and starts the whole local stack:
#   Kafka (one KRaft node) :9092 (controller :9093), PostgreSQL :5432, Redis :6379,
#   Apicurio Schema Registry :8081 (Confluent's API under /apis/ccompat/v7), command service
#   :8080, projector :8091, query API :8090, notifier :8093, fulfilment :8094, Mailpit (SMTP
#   :1025, its inbox on http://127.0.0.1:8025) for the notifier's email, and stripe-mock
#   (http://127.0.0.1:12111) as fulfilment's card processor. Orders wait for fulfilment.
# A broker, registry or service that is already running is reused.
# Logs and pids go to .stack/ (Kafka's config and data in .stack/kafka/, kept across
# restarts). `scripts/run.sh stop` stops what this script started; `scripts/run.sh demo
# [--rate N ...]` runs the demo driver (orderflow-demo) against the running stack.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

if [ "${1:-}" = "stop" ]; then
  for s in fulfilment notifier query-api projector command-service mailpit stripe-mock; do
    stop_service "$s"
  done
  stop_registry
  stop_kafka
  exit 0
fi

if [ "${1:-}" = "demo" ]; then
  shift
  cargo build --release --locked -q -p orderflow-demo
  # The demo receives stock on the fulfilment service, then waits for each confirmation.
  ORDERFLOW_DEMO_FULFILMENT="${ORDERFLOW_DEMO_FULFILMENT:-http://127.0.0.1:8094}" \
    exec target/release/orderflow-demo "$@"
fi

start_infrastructure
log "building the services (release)"
cargo build --release --locked --bins
# The development token issuer (ADR 0012): its key is created under .stack/dev-issuer on
# first use, and the APIs trust its JWKS (their default ORDERFLOW_AUTH_JWKS).
target/release/orderflow-token --role operator --sub ops-1 --ttl 1s >/dev/null
# Orders wait for fulfilment (ADR 0016): the fulfilment service below confirms them.
ORDERFLOW_FULFILMENT=true start_service command-service http://127.0.0.1:8080 target/release/command-service
# Only the command service registers schemas; the readers look them up anonymously.
(
  unset ORDERFLOW_SCHEMA_REGISTRY_AUTH
  start_service projector http://127.0.0.1:8091 target/release/projector
  # The query API logs in with its own, read-only users (ORDERFLOW_DATABASE_URL and
  # ORDERFLOW_REDIS_URL are the projector's, which owns the read model).
  ORDERFLOW_DATABASE_URL="$QUERY_DATABASE_URL" ORDERFLOW_REDIS_URL="$QUERY_REDIS_URL" \
    start_service query-api http://127.0.0.1:8090 target/release/query-api
)
# The notifier registers the schema of what it publishes (notifications.outbound), so it
# keeps the registry's writer credential. Its email goes to Mailpit, a local inbox.
start_mailpit
ORDERFLOW_NOTIFIER_DATABASE_URL="$(pg_url orderflow_notifier orderflow)" \
  start_service notifier http://127.0.0.1:8093 target/release/notifier
# Fulfilment: stock and payment logs, Stripe (stripe-mock here), and the process manager.
# Its token for the command service (role `fulfilment`) is renewed on every start.
start_stripe_mock
target/release/orderflow-token --role fulfilment --sub fulfilment --ttl 720h \
  >"$SECRETS_DIR/fulfilment.token"
chmod 600 "$SECRETS_DIR/fulfilment.token"
ORDERFLOW_FULFILMENT_DATABASE_URL="$(pg_url orderflow_fulfilment orderflow)" \
  ORDERFLOW_FULFILMENT_TOKEN_FILE="$SECRETS_DIR/fulfilment.token" \
  start_service fulfilment http://127.0.0.1:8094 target/release/fulfilment

cat <<MSG

orderflow is running:
  command service   http://127.0.0.1:8080   (logs: .stack/command-service.log)
  query API         http://127.0.0.1:8090   (logs: .stack/query-api.log)
  projector         http://127.0.0.1:8091   (health only; logs: .stack/projector.log)
  notifier          http://127.0.0.1:8093   (health only; logs: .stack/notifier.log)
  fulfilment        http://127.0.0.1:8094   (stock receipts; logs: .stack/fulfilment.log)
  stripe-mock       http://127.0.0.1:12111  (the card processor; docs/fulfilment.md)
  email inbox       http://127.0.0.1:8025   (Mailpit: every email the notifier sends)
  schema registry   $ORDERFLOW_SCHEMA_REGISTRY_URL   (Apicurio $APICURIO_VERSION, logs: .stack/registry.log;
                    reads are open, writes need the writer's password in .stack/secrets/)
  Kafka $KAFKA_VERSION       127.0.0.1:$KAFKA_PORT   (logs: .stack/kafka.log)
  PostgreSQL 127.0.0.1:$PG_PORT   Redis 127.0.0.1:$REDIS_PORT   (a user per service; passwords in .stack/secrets/)

Try it (every request needs a token; target/release/orderflow-token prints one). Receive
stock first (operators), then place an order: it is pending until fulfilment confirms it.
  OPS=\$(target/release/orderflow-token --role operator --sub ops-1 --ttl 1h)
  curl -s -X POST http://127.0.0.1:8094/stock/sku-1/receipts -H "authorization: Bearer \$OPS" \\
    -H 'content-type: application/json' -d '{"quantity":100}'
  TOKEN=\$(target/release/orderflow-token --role customer --sub cust-1 --ttl 1h)
  curl -si -X POST http://127.0.0.1:8080/orders -H "authorization: Bearer \$TOKEN" \\
    -H 'content-type: application/json' \\
    -d '{"customer_id":"cust-1","items":[{"product_id":"sku-1","quantity":2,"unit_price":"25.99"}],"shipping_address":"1 Main St","payment_method":"pm_card_visa"}'

  curl -s http://127.0.0.1:8090/orders/<order_id> -H "authorization: Bearer \$TOKEN"

Watch it live: open the dashboard, then let the demo driver move orders along:
  echo "http://127.0.0.1:8090/dashboard#token=\$(target/release/orderflow-token --role operator --sub ops-1 --ttl 8h)"
  scripts/run.sh demo      # places an order a second and packs, ships, tracks and delivers it; Ctrl-C stops

Be told: subscribe an address (customers) or a webhook (operators), docs/notifications.md:
  curl -s -X POST http://127.0.0.1:8090/subscriptions -H "authorization: Bearer \$TOKEN" \\
    -H 'content-type: application/json' -d '{"channel":"email","address":"cust-1@example.com"}'

Stop it: scripts/run.sh stop
MSG
