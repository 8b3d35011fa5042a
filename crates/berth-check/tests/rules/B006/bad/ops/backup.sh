#!/bin/bash
# Nightly archives of the uploads and the configuration, kept for 30 days.
# Run by cron; the monitoring watches the exit status.
set -euo pipefail

dest=/var/backups/shop
stamp=$(date +%F)

tar czf "$dest/uploads-$stamp.tgz" /srv/shop/uploads --exclude=/srv/shop/uploads/cache --exclude='*.tmp'
tar -C /srv/shop -czf "$dest/config-$stamp.tgz" config --exclude-vcs

aws s3 cp "$dest/uploads-$stamp.tgz" "s3://acme-backups/shop/uploads-$stamp.tgz"
find "$dest" -name '*.tgz' -mtime +30 -delete
