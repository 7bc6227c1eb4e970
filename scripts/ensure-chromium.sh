#!/bin/sh
# Debian's chromium at /usr/bin/chromium, for the verify.html Content-Security-Policy test
# (test/integration/verify-report-csp.test.ts drives it with playwright-core; no browser download
# works here). Idempotent: a no-op when it is there; installs it with apt-get only as root on
# Debian; otherwise one line saying what to install.
set -eu
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: installing chromium for the verify.html CSP test (apt-get)" >&2
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  exit 0
fi
echo "npm test: /usr/bin/chromium is needed for the verify.html CSP test: apt-get install chromium (as root, on Debian)" >&2
exit 1
