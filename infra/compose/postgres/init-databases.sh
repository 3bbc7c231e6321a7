#!/usr/bin/env bash
# One database per service, owned by one login role (credentials from secrets).
set -euo pipefail
IFS=',' read -ra dbs <<< "${POSTGRES_MULTIPLE_DATABASES}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE cityops LOGIN PASSWORD '$(cat /run/secrets/postgres_password)';
SQL
for db in "${dbs[@]}"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "CREATE DATABASE \"$db\" OWNER cityops"
done
