#!/usr/bin/env bash
# Installs what the DKIM tests need: Debian's python3-dkim, the independent verifier the tests
# run with /usr/bin/python3 (tests/dkim.rs). Idempotent: does nothing when it is already there.
# Runs as root on Debian, or with sudo available.
set -euo pipefail
if /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-dkim
/usr/bin/python3 -c 'import dkim'
