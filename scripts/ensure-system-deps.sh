#!/usr/bin/env bash
# Debian packages the tests use, installed when missing and we are allowed to (root + apt-get):
# chromium drives the browser tests; bubblewrap is the grading sandbox (python -m autograder grade).
set -euo pipefail
missing=()
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)  # grade --engine dask tests
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages for the tests: ${missing[*]}..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || { echo "Could not install ${missing[*]} with apt-get; tests that need them will fail under CI=true." >&2; exit 0; }
else
  echo "Missing: ${missing[*]}. Install with 'sudo apt-get install ${missing[*]}'" \
       "(chromium: browser tests; bubblewrap: the grading sandbox)." >&2
fi
