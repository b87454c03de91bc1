#!/usr/bin/env bash
# Browser tests drive Debian's chromium; install it when it is missing and we are allowed to.
set -euo pipefail
if [ -x /usr/lib/chromium/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || { echo "Could not install chromium with apt-get; browser tests will fail under CI=true." >&2; exit 0; }
else
  echo "chromium is missing: install it with 'sudo apt-get install chromium' to run the browser tests." >&2
fi
