#!/usr/bin/env bash
# Shared helpers for the local stack scripts: install what is missing, start what is not running.
# Everything listens on loopback. State lives under $STACK_DIR (default .stack/ in the repo).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
TANSU_VERSION="0.6.0"
# tansu takes ~15 minutes to build, so it is cached outside the repo and reused across clones.
TANSU_ROOT="${TANSU_ROOT:-$HOME/.cache/orderflow/tansu-$TANSU_VERSION}"
TANSU_BIN="$TANSU_ROOT/bin/tansu"
KAFKA_PORT="${KAFKA_PORT:-9092}"
PG_PORT="${PG_PORT:-5432}"
REDIS_PORT="${REDIS_PORT:-6379}"
PY_VENV="${PY_VENV:-$HOME/.cache/orderflow/venv}"

export ORDERFLOW_KAFKA_BROKERS="${ORDERFLOW_KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
export ORDERFLOW_DATABASE_URL="${ORDERFLOW_DATABASE_URL:-postgres://orderflow:orderflow@127.0.0.1:$PG_PORT/orderflow}"
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
}

install_tansu() {
  if [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    return 0
  fi
  log "building tansu $TANSU_VERSION (about 15 minutes, cached in $TANSU_ROOT)"
  cargo install "tansu@$TANSU_VERSION" --locked --features dynostore --root "$TANSU_ROOT"
}

install_python_client() {
  if [ -x "$PY_VENV/bin/python" ] && "$PY_VENV/bin/python" -c 'import confluent_kafka.schema_registry.avro' 2>/dev/null; then
    return 0
  fi
  log "installing Confluent's Python client into $PY_VENV"
  python3 -m venv "$PY_VENV"
  "$PY_VENV/bin/pip" install -q 'confluent-kafka[avro,schemaregistry]==2.12.2'
}

start_postgres() {
  local cluster
  cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    local version
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

start_tansu() {
  if port_open "$KAFKA_PORT"; then return 0; fi
  log "starting tansu (Kafka API) on 127.0.0.1:$KAFKA_PORT"
  mkdir -p "$STACK_DIR"
  nohup "$TANSU_BIN" broker \
    --storage-engine "${TANSU_STORAGE:-memory://tansu/}" \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    >"$STACK_DIR/tansu.log" 2>&1 &
  echo $! >"$STACK_DIR/tansu.pid"
  for _ in $(seq 1 60); do port_open "$KAFKA_PORT" && return 0; sleep 0.5; done
  echo "tansu did not start, see $STACK_DIR/tansu.log" >&2; return 1
}

start_infrastructure() {
  install_system_packages
  install_tansu
  start_postgres
  start_redis
  start_tansu
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
