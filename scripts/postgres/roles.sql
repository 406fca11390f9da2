SET client_min_messages TO warning;
-- The orderflow stack's Postgres roles, none a superuser (docs/security.md). Run by psql as
-- a superuser, again on every start (it is idempotent): scripts/lib.sh locally, and the
-- postgres service of docker-compose.yml when it first initialises. A role whose password
-- variable is set (`\set projector_password ...` before this file) can log in with it.
--   orderflow_admin      CREATEDB: the scripts and the tests create and drop databases;
--                        a member of orderflow_projector, so the databases it creates for
--                        tests can be owned by the projector's role.
--   orderflow_projector  owns the read model's database and everything the projector
--                        creates in it (generations, control schema, reader views).
--   orderflow_reader     NOLOGIN: what a reader may do, granted by the projector at each
--                        switch (USAGE on orderflow_read, SELECT on its views).
--   orderflow_query      the query API: a member of orderflow_reader, nothing of its own
--                        (the notifier grants it managing subscriptions, ADR 0014).
--   orderflow_notifier   the notifier: owns its schema `notifier` in the read model's
--                        database (CONNECT and CREATE on it), nothing else.
--   orderflow_fulfilment the fulfilment service: owns its schema `fulfilment` in the read
--                        model's database (CONNECT and CREATE on it), nothing else.
--   orderflow_registry   owns the schema registry's database (Apicurio's SQL storage).
SELECT format('CREATE ROLE %I', r)
FROM unnest(ARRAY['orderflow_admin', 'orderflow_projector', 'orderflow_reader',
                  'orderflow_query', 'orderflow_notifier', 'orderflow_fulfilment',
                  'orderflow_registry']) AS r
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE orderflow_admin LOGIN NOSUPERUSER CREATEDB NOCREATEROLE;
ALTER ROLE orderflow_projector LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE orderflow_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE orderflow_query LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE orderflow_notifier LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE orderflow_fulfilment LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE orderflow_registry LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
GRANT orderflow_reader TO orderflow_query;
GRANT orderflow_projector TO orderflow_admin;
\if :{?admin_password}
ALTER ROLE orderflow_admin PASSWORD :'admin_password';
\endif
\if :{?projector_password}
ALTER ROLE orderflow_projector PASSWORD :'projector_password';
\endif
\if :{?query_password}
ALTER ROLE orderflow_query PASSWORD :'query_password';
\endif
\if :{?notifier_password}
ALTER ROLE orderflow_notifier PASSWORD :'notifier_password';
\endif
\if :{?fulfilment_password}
ALTER ROLE orderflow_fulfilment PASSWORD :'fulfilment_password';
\endif
\if :{?registry_password}
ALTER ROLE orderflow_registry PASSWORD :'registry_password';
\endif
