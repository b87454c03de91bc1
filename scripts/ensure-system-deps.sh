#!/usr/bin/env bash
# Debian packages the tests use, installed when missing and we are allowed to (root + apt-get):
# chromium drives the browser tests; bubblewrap is the grading sandbox (python -m autograder grade).
# Then JupyterHub's proxy (npm configurable-http-proxy, pinned) into .venv/node, for the hub test
# (tests/browser/test_browser_hub.py, docs/CLASSROOM.md); quick and silent when already there.
set -euo pipefail
CHP_VERSION=5.3.0
CHP_PREFIX="$(cd "$(dirname "$0")/.." && pwd)/.venv/node"
ensure_proxy() {
  local bin="$CHP_PREFIX/node_modules/.bin/configurable-http-proxy"
  [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$CHP_VERSION" ] && return 0
  if ! command -v npm >/dev/null; then
    echo "Missing: node and npm (node >= 20), for JupyterHub's configurable-http-proxy (the hub test)." >&2
    return 0
  fi
  echo "Installing configurable-http-proxy $CHP_VERSION into $CHP_PREFIX..."
  npm install --prefix "$CHP_PREFIX" --no-audit --no-fund --loglevel=error \
      "configurable-http-proxy@$CHP_VERSION" >/dev/null \
    || echo "Could not install configurable-http-proxy with npm; the hub test will fail under CI=true." >&2
}
ensure_proxy
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
