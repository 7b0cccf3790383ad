#!/usr/bin/env bash
# CI guard for a new user's first hour: the README's first command on a machine without bubblewrap.
# In a private mount namespace (root only) `/dev/null` is bound over `bwrap`; then, both in a fresh venv
# with a plain `pip install -e .` (no pytest) and in the dev venv given as $1, `shipyard demo` must merge
# its work, `shipyard doctor` must name bubblewrap with its install line, and bad input must be named
# before the missing sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SHIPYARD_BARE:-}" ]; then
  exec unshare --mount env SHIPYARD_BARE=1 bash "$0" "$@"
fi
if found=$(command -v bwrap); then
  mount --bind /dev/null "$found"
  if [ -x "$found" ]; then echo "bare-machine: $found is still executable" >&2; exit 1; fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "bare-machine: $*" >&2; exit 1; }

python3 -m venv "$work/plain"
"$work/plain/bin/pip" install --quiet -e . 2>&1 | grep -v '^WARNING: Location' || true
"$work/plain/bin/python" -c 'import pytest' 2>/dev/null && fail "the plain install has pytest"

check_venv() {  # $1: a venv's bin folder; $2: a name for the report
  local bin=$1 name=$2 demo="$work/$2-demo" repo="$work/$2-repo" out
  out=$("$bin/shipyard" demo --dir "$demo" 2>&1) || { echo "$out"; fail "$name: the demo failed"; }
  grep -q "bubblewrap is not installed" <<<"$out" || fail "$name: the demo did not say bubblewrap is missing"
  merged=$(git -C "$demo" log --format=%b main | grep -o '^Shipyard-Task: #[0-9]*' | sort -u | wc -l)
  [ "$merged" -ge 6 ] || { echo "$out"; fail "$name: the demo merged $merged tasks onto main, expected 6"; }
  out=$(COLUMNS=250 "$bin/shipyard" doctor "$demo" 2>&1) || { echo "$out"; fail "$name: doctor exit $?"; }
  grep -E '^│ bubblewrap .*not installed.*apt-get install bubblewrap' <<<"$out" >/dev/null \
    || { echo "$out"; fail "$name: doctor did not name bubblewrap with its install line"; }
  mkdir "$repo" && git -C "$repo" init -q -b main && git -C "$repo" -c user.name=t -c user.email=t@t \
    commit -q --allow-empty -m init
  out=$("$bin/shipyard" run "$repo" --goal x --model scripted:demo --model worker=nosuch:thing 2>&1) \
    && fail "$name: a bad model string was accepted"
  grep -q 'nosuch' <<<"$(head -1 <<<"$out")" || { echo "$out"; fail "$name: the bad model string is not named first"; }
  grep -q 'bubblewrap' <<<"$out" || { echo "$out"; fail "$name: the missing bubblewrap is not named"; }
  out=$(env -u OPENAI_API_KEY -u OPENAI_BASE_URL "$bin/shipyard" run "$repo" --goal x --model openai:gpt-5.2 2>&1) \
    && fail "$name: a run without OPENAI_API_KEY was accepted"
  grep -q 'OPENAI_API_KEY' <<<"$out" && grep -q 'bubblewrap' <<<"$out" \
    || { echo "$out"; fail "$name: the missing key and bubblewrap are not both named"; }
  [ -z "$(git -C "$repo" status --porcelain --ignored)" ] || fail "$name: refused runs wrote files"
  echo "bare-machine: $name: the demo merged $merged tasks onto main without bubblewrap; doctor and bad input ok"
}

check_venv "$work/plain/bin" plain
if [ -n "${1:-}" ]; then check_venv "$1" dev; fi
