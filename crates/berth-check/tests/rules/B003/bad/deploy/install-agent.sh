#!/usr/bin/env bash
# Installs the monitoring agent on a new host.
set -euo pipefail

curl -fsSL https://get.example.com/agent/install.sh | sudo bash -s -- --key-file /etc/agent/key
bash <(curl -fsSL https://get.example.com/agent/configure.sh)
