#!/bin/bash
# Resets a review app's database from the seed dump.
set -euo pipefail

DB_NAME="${DB_NAME:-review}"

psql -h "$DB_HOST" -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$DB_NAME\";"
psql -h "$DB_HOST" -U postgres -d postgres -c "CREATE DATABASE \"$DB_NAME\" OWNER review;"
psql -v ON_ERROR_STOP=1 -h "$DB_HOST" -U review -d "$DB_NAME" -f seed/review.sql
dropdb --if-exists -h "$DB_HOST" -U postgres "${DB_NAME}_previous"
