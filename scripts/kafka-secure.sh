#!/usr/bin/env bash
# The secured Kafka broker (issue 15): SASL_SSL with SCRAM-SHA-512, TLS from a local CA,
# the standard authorizer denying whatever no ACL allows, one principal per service.
# Sourced helpers, like scripts/lib.sh (which this sources when it was not):
#
#   start_secure_kafka   start it (or reuse the running one), provision users and ACLs,
#                        write the client properties files; idempotent
#   stop_secure_kafka    stop it (its data, certificates and passwords stay)
#
# A separate process from the plain broker of start_kafka, on its own ports and data dir;
# it never touches that one. Everything lives in $SECURE_KAFKA_DIR (0700):
#
#   tls/ca.pem                  the CA clients trust (ssl.ca.location)
#   passwords/<user>            one generated password per user, 0600
#   <service>.properties        librdkafka settings per principal (command-service,
#                               projector, notifier, fulfilment, intruder), for ORDERFLOW_KAFKA_CONFIG_FILE
#   admin.properties            the Java client settings of the super user, for the scripts
#   server.properties, data/, kafka.log, kafka.pid
#
# No password is ever passed on a command line: the broker reads server.properties (0600),
# the Java helpers read the password files, the services read their properties file.
if ! declare -F kafka_java >/dev/null; then
  # shellcheck source=scripts/lib.sh
  source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

SECURE_KAFKA_PORT="${SECURE_KAFKA_PORT:-9192}"
SECURE_KAFKA_CONTROLLER_PORT="${SECURE_KAFKA_CONTROLLER_PORT:-9193}"
SECURE_KAFKA_DIR="${SECURE_KAFKA_DIR:-$STACK_DIR/kafka-secure}"
# Lighter than the plain broker: it carries only the security tests.
SECURE_KAFKA_HEAP_OPTS="${SECURE_KAFKA_HEAP_OPTS:--Xms256m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
# The users with SCRAM credentials besides admin; their ACLs are in scripts/kafka/acls.txt.
SECURE_KAFKA_USERS=(command-service projector notifier fulfilment intruder)

secure_kafka_brokers() { echo "127.0.0.1:$SECURE_KAFKA_PORT"; }

secure_kafka_pid() { owned_pid kafka-secure/kafka "$SECURE_KAFKA_DIR/server.properties"; }

secure_kafka_cluster_id() { sed -n 's/^cluster\.id=//p' "$SECURE_KAFKA_DIR/data/meta.properties" 2>/dev/null || true; }

# Whether the secured broker answers admin's metadata requests as this stack's cluster;
# extra arguments go to Ready.java.
secure_kafka_ready() {
  local id args=(--command-config "$SECURE_KAFKA_DIR/admin.properties")
  id=$(secure_kafka_cluster_id)
  if [ -n "$id" ]; then args+=(--cluster-id "$id"); fi
  kafka_java "$REPO_ROOT/scripts/kafka/Ready.java" "$(secure_kafka_brokers)" "${args[@]}" "$@"
}

# A password for each user that has none yet (kept across restarts: the credentials are
# in the broker's metadata). Hex, so it needs no quoting in any of the formats below.
secure_kafka_passwords() {
  local user dir="$SECURE_KAFKA_DIR/passwords"
  (
    umask 077
    mkdir -p "$dir"
    for user in admin controller "${SECURE_KAFKA_USERS[@]}"; do
      [ -s "$dir/$user" ] || openssl rand -hex 24 >"$dir/$user"
    done
  )
}

secure_kafka_password() { cat "$SECURE_KAFKA_DIR/passwords/$1"; }

# The local CA (kept) and the broker's certificate for 127.0.0.1/localhost, signed by it
# (issued again when missing or within a week of expiring). The broker reads one PEM file
# with its unencrypted PKCS#8 key and certificate (ssl.keystore.type=PEM).
secure_kafka_certificates() {
  local tls="$SECURE_KAFKA_DIR/tls"
  (
    umask 077
    mkdir -p "$tls"
    cd "$tls"
    if [ ! -s ca.pem ] || [ ! -s ca.key ]; then
      log "creating the local CA in $tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=orderflow local CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      rm -f broker.pem
    fi
    if [ ! -s broker.pem ] || ! openssl x509 -checkend 604800 -noout -in broker.pem >/dev/null; then
      log "issuing the broker's certificate (127.0.0.1, localhost)"
      openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1" 2>/dev/null
      printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
        "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
        -days 825 -extfile broker.ext 2>/dev/null
      cat broker.key broker.pem >broker.keystore.pem
      rm -f broker.csr broker.ext
    fi
    chmod 644 ca.pem
  )
}

# server.properties from the template, and the clients' properties files; all 0600.
write_secure_kafka_config() {
  local line out="$SECURE_KAFKA_DIR/server.properties" admin controller
  admin=$(secure_kafka_password admin)
  controller=$(secure_kafka_password controller)
  (
    umask 077
    mkdir -p "$SECURE_KAFKA_DIR/data"
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line//@SECURE_PORT@/"$SECURE_KAFKA_PORT"}
      line=${line//@SECURE_CONTROLLER_PORT@/"$SECURE_KAFKA_CONTROLLER_PORT"}
      line=${line//@DATA_DIR@/"$SECURE_KAFKA_DIR/data"}
      line=${line//@TLS_DIR@/"$SECURE_KAFKA_DIR/tls"}
      line=${line//@ADMIN_PASSWORD@/"$admin"}
      line=${line//@CONTROLLER_PASSWORD@/"$controller"}
      printf '%s\n' "$line"
    done <"$REPO_ROOT/scripts/kafka/secure.properties.template" >"$out.tmp"
    mv "$out.tmp" "$out"
    {
      echo "# User:admin, the super user of the secured broker: for the scripts' Java tools."
      echo "security.protocol=SASL_SSL"
      echo "sasl.mechanism=SCRAM-SHA-512"
      echo "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$admin\";"
      echo "ssl.truststore.type=PEM"
      echo "ssl.truststore.location=$SECURE_KAFKA_DIR/tls/ca.pem"
    } >"$SECURE_KAFKA_DIR/admin.properties"
    local user
    for user in "${SECURE_KAFKA_USERS[@]}"; do
      {
        echo "# librdkafka settings of User:$user on the secured broker $(secure_kafka_brokers):"
        echo "# ORDERFLOW_KAFKA_CONFIG_FILE=$SECURE_KAFKA_DIR/$user.properties"
        echo "security.protocol=SASL_SSL"
        echo "sasl.mechanism=SCRAM-SHA-512"
        echo "sasl.username=$user"
        echo "sasl.password=$(secure_kafka_password "$user")"
        echo "ssl.ca.location=$SECURE_KAFKA_DIR/tls/ca.pem"
      } >"$SECURE_KAFKA_DIR/$user.properties"
    done
  )
}

# Formats the data dir once, with admin's SCRAM credentials in the first metadata.
format_secure_kafka() {
  if [ -f "$SECURE_KAFKA_DIR/data/meta.properties" ]; then return 0; fi
  local id
  id=$(kafka_java kafka.tools.StorageTool random-uuid)
  log "formatting $SECURE_KAFKA_DIR/data (cluster $id)"
  kafka_java "$REPO_ROOT/scripts/kafka/FormatSecure.java" "$SECURE_KAFKA_DIR/server.properties" "$id" \
    "$SECURE_KAFKA_DIR/passwords/admin" >/dev/null || return 1
}

# The users' SCRAM credentials and the ACLs of scripts/kafka/acls.txt, applied when they
# (or the cluster) changed since the last time.
provision_secure_kafka() {
  local stamp file="$SECURE_KAFKA_DIR/provisioned"
  stamp=$(cat "$REPO_ROOT/scripts/kafka/acls.txt" "$SECURE_KAFKA_DIR"/passwords/* <(secure_kafka_cluster_id) | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$file" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  log "provisioning the secured broker's users and ACLs (scripts/kafka/acls.txt)"
  kafka_java "$REPO_ROOT/scripts/kafka/Acls.java" "$(secure_kafka_brokers)" "$SECURE_KAFKA_DIR/admin.properties" \
    "$SECURE_KAFKA_DIR/passwords" "$REPO_ROOT/scripts/kafka/acls.txt" >/dev/null || return 1
  echo "$stamp" >"$file"
}

start_secure_kafka() {
  install_kafka
  mkdir -p "$SECURE_KAFKA_DIR"
  chmod 700 "$SECURE_KAFKA_DIR"
  secure_kafka_passwords
  secure_kafka_certificates
  local pid
  pid=$(secure_kafka_pid)
  if [ -z "$pid" ]; then
    if port_open "$SECURE_KAFKA_PORT" || port_open "$SECURE_KAFKA_CONTROLLER_PORT"; then
      echo "127.0.0.1:$SECURE_KAFKA_PORT or :$SECURE_KAFKA_CONTROLLER_PORT is in use, but not by this stack's" \
        "secured broker ($SECURE_KAFKA_DIR); stop that or set SECURE_KAFKA_PORT/SECURE_KAFKA_CONTROLLER_PORT" >&2
      return 1
    fi
    write_secure_kafka_config
    format_secure_kafka || return 1
    log "starting the secured Kafka broker on 127.0.0.1:$SECURE_KAFKA_PORT (SASL_SSL; controller :$SECURE_KAFKA_CONTROLLER_PORT)"
    launch_broker "$SECURE_KAFKA_DIR/server.properties" "$SECURE_KAFKA_DIR/kafka.log" \
      "$SECURE_KAFKA_DIR/kafka.pid" "$SECURE_KAFKA_HEAP_OPTS"
    pid=$(cat "$SECURE_KAFKA_DIR/kafka.pid")
  else
    # Running: the files it reads are rewritten only by a fresh start, but the clients'
    # files are cheap to keep current.
    write_secure_kafka_config
  fi
  local status=0
  secure_kafka_ready --wait "$KAFKA_READY_TIMEOUT" --pid "$pid" >/dev/null 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    grep -m 5 '^\[[^]]*\] ERROR ' "$SECURE_KAFKA_DIR/kafka.log" >&2 || true
    tail -15 "$SECURE_KAFKA_DIR/kafka.log" >&2
    echo "the secured Kafka broker did not become ready (status $status), see $SECURE_KAFKA_DIR/kafka.log" >&2
    return 1
  fi
  provision_secure_kafka || return 1
  export ORDERFLOW_SECURE_KAFKA_DIR="$SECURE_KAFKA_DIR"
  ORDERFLOW_SECURE_KAFKA_BROKERS="$(secure_kafka_brokers)"
  export ORDERFLOW_SECURE_KAFKA_BROKERS
}

# Stops the secured broker: SIGTERM, SIGKILL after 30 s. Its data, certificates and
# passwords stay for the next start.
stop_secure_kafka() {
  local pid
  pid=$(secure_kafka_pid)
  if [ -n "$pid" ]; then
    log "stopping the secured Kafka broker"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do [ -n "$(secure_kafka_pid)" ] || break; sleep 0.2; done
    if [ -n "$(secure_kafka_pid)" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [ -n "$(secure_kafka_pid)" ] || break; sleep 0.1; done
    fi
  fi
  rm -f "$SECURE_KAFKA_DIR/kafka.pid"
}
