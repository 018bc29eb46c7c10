#!/usr/bin/env bash
# Installs the Debian packages the send-stage tests start on 127.0.0.1 (tests/send.rs):
#   python3-aiosmtpd  the SMTP server with STARTTLS and AUTH (run with /usr/bin/python3, which
#                     sees Debian's packages; a pyenv `python3` on PATH does not)
#   postfix           only for /usr/sbin/smtp-sink (volume and fault injection); preseeded as
#                     "No configuration", so nothing is configured or started
#   postgresql        the server binaries (initdb, pg_ctl) for the shared-journal tests; the
#                     tests make their own cluster in a temporary directory
# Idempotent: does nothing when everything is there. Needs root (or sudo).
set -euo pipefail

need=()
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
[ -x /usr/sbin/smtp-sink ] || need+=(postfix)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing ${need[*]}" >&2
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
# policy-rc.d: Debian's maintainer scripts would otherwise try to start PostgreSQL and Postfix
# as services; the tests start their own instances on loopback.
restore=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  restore=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >&2
[ -n "$restore" ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
