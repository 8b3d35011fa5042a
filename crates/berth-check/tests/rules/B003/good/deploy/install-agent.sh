#!/usr/bin/env bash
# Installs the monitoring agent on a new host, at a pinned version.
set -euo pipefail

version=1.8.2
curl -fsSLo /tmp/agent-install.sh "https://get.example.com/agent/install-$version.sh"
echo "9f2b5e6c3f0d8a1b7c4e2d9f6a3b8c1d5e7f0a2b4c6d8e1f3a5b7c9d0e2f4a6b  /tmp/agent-install.sh" | sha256sum -c -
sudo bash /tmp/agent-install.sh --key-file /etc/agent/key
