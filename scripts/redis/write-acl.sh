#!/bin/sh
# Writes the Redis ACL file of the orderflow stack to $1 (mode 0600): one user per service,
# each limited to the read model's keys and to the commands it sends (docs/security.md).
# Passwords come from the environment and are stored as SHA-256 hashes only:
#   REDIS_ADMIN_PASSWORD      orderflow_admin: every key and command (scripts, tests, the benchmark)
#   REDIS_PROJECTOR_PASSWORD  orderflow_projector: writes the order documents, drops a
#                             generation's keys (SCAN + UNLINK) and one order's (DEL, repair)
#   REDIS_QUERY_PASSWORD      orderflow_query: reads documents, fills misses with the guarded script
#   REDIS_KEY_PREFIX          the projector's ORDERFLOW_REDIS_PREFIX (default orderflow:)
# Scripts run their commands as the caller, so both services need GET and SET for the
# version-guarded write (WRITE_IF_NEWER), and SCRIPT LOAD + EVALSHA to run it. HELLO is
# allowed for clients that speak RESP3. redis-rs also sends CLIENT SETINFO on connect
# (Redis 7.2 and later): it ignores the refusal, so the command is not granted.
# Used by scripts/lib.sh and by the redis service of docker-compose.yml.
set -eu
out=${1:?usage: write-acl.sh OUTPUT}
prefix=${REDIS_KEY_PREFIX:-orderflow:}
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
admin=$(hash "${REDIS_ADMIN_PASSWORD:?}")
projector=$(hash "${REDIS_PROJECTOR_PASSWORD:?}")
query=$(hash "${REDIS_QUERY_PASSWORD:?}")
umask 077
cat >"$out.tmp" <<ACL
user default off resetpass resetkeys resetchannels -@all
user orderflow_admin on #$admin ~* &* +@all
user orderflow_projector on #$projector resetchannels ~$prefix* -@all +ping +hello +script|load +evalsha +get +set +scan +unlink +del
user orderflow_query on #$query resetchannels ~$prefix* -@all +ping +hello +script|load +evalsha +get +set
ACL
mv "$out.tmp" "$out"
