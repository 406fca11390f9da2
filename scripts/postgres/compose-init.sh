#!/bin/sh
# The postgres service of docker-compose.yml runs this once, when it initialises its data
# directory: the stack's roles (roles.sql, mounted beside it) with the passwords from the
# environment (.env), and the read model's database, owned by the projector's role and
# open to the readers and the notifier's and fulfilment's own schemas only (docs/security.md). scripts/lib.sh does the same locally.
set -eu
{
  printf '\\set projector_password %s\n' "$POSTGRES_PROJECTOR_PASSWORD"
  printf '\\set query_password %s\n' "$POSTGRES_QUERY_PASSWORD"
  printf '\\set notifier_password %s\n' "$POSTGRES_NOTIFIER_PASSWORD"
  printf '\\set fulfilment_password %s\n' "$POSTGRES_FULFILMENT_PASSWORD"
  cat /orderflow/roles.sql
  cat <<'SQL'
CREATE DATABASE orderflow OWNER orderflow_projector;
REVOKE ALL ON DATABASE orderflow FROM PUBLIC;
GRANT CONNECT ON DATABASE orderflow TO orderflow_reader;
GRANT CONNECT, CREATE ON DATABASE orderflow TO orderflow_notifier;
GRANT CONNECT, CREATE ON DATABASE orderflow TO orderflow_fulfilment;
SQL
} | psql -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres
