#!/bin/bash
# Monthly log rotation: old logs go into the month's archive, then away.
set -euo pipefail

logs=/var/log/shop
archive="/var/backups/logs/shop-$(date +%Y%m).tar"

# `\;` makes -delete run only for the files tar appended.
find "$logs" -name '*.log.*' -mtime +7 -exec tar rf "$archive" {} \; -delete
find /srv/shop/exports -name '*.csv' -mtime +30 -exec gzip -9 {} +
find /tmp/shop-uploads -type f -mmin +120 -delete
echo "rotated logs into $archive"
