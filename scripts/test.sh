#!/usr/bin/env bash
# The test command of the README: installs what the tests drive (Debian's chromium and bubblewrap, the
# Claude Code and Codex CLIs from npm) when missing, then runs the whole suite. Needs the venv from set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || { python3 -m venv .venv && .venv/bin/pip install --quiet -e '.[dev]'; }
# The Ray executor's tests start a loopback cluster: Ray is an extra, installed here (not by the demo).
.venv/bin/python -c 'import ray' 2>/dev/null || .venv/bin/pip install --quiet -e '.[dev,ray]'
apt_install() {
  if command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
# The dashboard's browser tests drive Debian's Chromium (never a browser that Playwright downloads).
[ -x /usr/bin/chromium ] || apt_install chromium
# Agent commands run in a bubblewrap sandbox; Shipyard refuses to run them without it.
command -v bwrap >/dev/null || apt_install bubblewrap
# The external agent CLIs that tests/backends drives for real, into .venv/npm (ignored by git);
# skipped when those exact versions are already there.
CLIS="@anthropic-ai/claude-code@2.1.197 @openai/codex@0.171.0"
if [ "$(cat .venv/npm/.installed 2>/dev/null)" != "$CLIS" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  # shellcheck disable=SC2086
  npm install --prefix .venv/npm --no-audit --no-fund --loglevel=error $CLIS
  if ! .venv/npm/node_modules/.bin/claude --version >/dev/null 2>&1; then
    (cd .venv/npm/node_modules/@anthropic-ai/claude-code && node install.cjs)  # its postinstall, if npm skipped it
  fi
  echo "$CLIS" > .venv/npm/.installed
fi
exec .venv/bin/pytest "$@"
