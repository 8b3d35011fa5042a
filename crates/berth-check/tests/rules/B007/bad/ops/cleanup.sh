#!/bin/bash
# Monthly log rotation: old logs go into the month's archive, then away.
set -euo pipefail

logs=/var/log/shop
archive="/var/backups/logs/shop-$(date +%Y%m).tar"

find "$logs" -name '*.log.*' -mtime +7 -exec tar rf "$archive" {} + -delete
find /srv/shop/exports -name '*.csv' -mtime +30 -exec zip -q "/var/backups/exports-$(date +%F).zip" {} + -exec rm -f {} +
echo "rotated logs into $archive"
