#!/bin/bash
# Refreshes the staging database from last night's production dump.
set -euo pipefail

dump=/var/backups/postgres/shop-latest.sql.gz

dropdb --if-exists --host staging-db --username postgres shop
createdb --host staging-db --username postgres --owner shop shop
gunzip -c "$dump" | psql -v ON_ERROR_STOP=1 --host staging-db --username shop shop
psql -v ON_ERROR_STOP=1 --single-transaction --host staging-db --username shop --dbname shop --file /srv/shop/sql/grants.sql
pg_restore --exit-on-error --no-owner --host staging-db --username shop --dbname reports /var/backups/postgres/reports-latest.dump
psql --host staging-db --username shop --dbname shop --command 'ANALYZE'
echo "staging restored from $dump"
