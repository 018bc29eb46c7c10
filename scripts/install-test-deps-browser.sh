#!/usr/bin/env bash
# Installs what the preview's browser tests need (tests/preview_browser.rs): Debian's Chromium and
# its matching chromedriver. Idempotent: does nothing when both are already on PATH, so a second
# run costs nothing. Runs as root, or with sudo available.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# --no-install-recommends keeps out the desktop extras (fonts still come as dependencies).
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
chromium --version
chromedriver --version
