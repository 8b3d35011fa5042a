#!/bin/bash
# Refreshes staging from last night's production dump.
set -euo pipefail

export PGPASSWORD=Tr0ub4dor-staging
pg_restore --clean --no-owner --host staging-db --username shop --dbname shop /srv/backups/latest.dump
mysql --host legacy-db --user report -pR3port-2024 --execute 'analyze table orders' reports
psql "postgres://shop:Tr0ub4dor-staging@staging-db:5432/shop" --command 'analyze'
