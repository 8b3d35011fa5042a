#!/bin/bash
# Nightly archives of the uploads and the configuration, kept for 30 days.
# Run by cron; the monitoring watches the exit status.
set -euo pipefail

dest=/var/backups/shop
stamp=$(date +%F)

tar czf "$dest/uploads-$stamp.tgz" --exclude=/srv/shop/uploads/cache --exclude='*.tmp' /srv/shop/uploads
tar -C /srv/shop --exclude-vcs -czf "$dest/config-$stamp.tgz" config
# An exclude between two names applies to the names after it: partial
# downloads are left out of the incoming media only.
tar czf "$dest/media-$stamp.tgz" /srv/shop/media/originals --exclude='*.part' /srv/shop/media/incoming

aws s3 cp "$dest/uploads-$stamp.tgz" "s3://acme-backups/shop/uploads-$stamp.tgz"
find "$dest" -name '*.tgz' -mtime +30 -delete
