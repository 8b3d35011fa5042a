#!/bin/bash
# Refreshes the staging database from last night's production dump.
set -euo pipefail

dump=/var/backups/postgres/shop-latest.sql.gz

dropdb --if-exists --host staging-db --username postgres shop
createdb --host staging-db --username postgres --owner shop shop
gunzip -c "$dump" | psql --host staging-db --username shop shop
psql --host staging-db --username shop --dbname shop --file /srv/shop/sql/grants.sql
echo "staging restored from $dump"
