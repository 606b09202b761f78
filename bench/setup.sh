#!/usr/bin/env bash
# The peers bench/parse.py compares vigil with: fail2ban-regex (Debian package fail2ban)
# and ripgrep. Installing fail2ban on a host also installs its service: stop it
# (systemctl stop fail2ban) before benchmarking so it does not compete for the CPU.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    exec sudo "$0" "$@"
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y fail2ban ripgrep
