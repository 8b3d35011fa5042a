#!/bin/bash
# Refreshes staging from last night's production dump.
set -euo pipefail
: "${DB_PASSWORD:?set by the scheduler}"

PGPASSWORD="$(cat /run/secrets/staging-db-password)"
export PGPASSWORD
pg_restore --clean --no-owner --host staging-db --username shop --dbname shop /srv/backups/latest.dump
mysql --defaults-extra-file=/etc/reports/my.cnf --host legacy-db --execute 'analyze table orders' reports
psql "postgres://shop:${DB_PASSWORD}@staging-db:5432/shop" --command 'analyze'

# Seen on public repositories, none of them a written secret:
# a file that holds the secret (bank-of-anthos), a template placeholder
# (grafana/intro-to-mltp), and ssh's port after sshpass's own options
# (kube-prometheus).
JWT_SECRET=jwt-secret.yaml
export GRAFANA_METRICS_API_KEY="__API_KEY__"
sshpass -p "$SSH_PASSWORD" ssh -o StrictHostKeychecking=no -p 2222 root@127.0.0.1 uptime
echo "$JWT_SECRET $GRAFANA_METRICS_API_KEY"
