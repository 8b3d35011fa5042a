#!/bin/bash
set -euo pipefail
# Takes effect when the entrypoint restarts the server after initialisation.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "ALTER SYSTEM SET max_connections = 250;"
