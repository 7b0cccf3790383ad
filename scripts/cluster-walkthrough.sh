#!/usr/bin/env bash
# The README's "A multi-node cluster on one machine", run as written (the lines between the README
# markers below are the README's own; tests/cluster/test_readme_walkthrough.py keeps them the same):
# a Ray head and two worker nodes on 127.0.0.2-4, `shipyard doctor`, a sim fleet through `shipyard run
# --engine ray`, `shipyard status`; then it checks that both worker nodes did work, and always stops the
# cluster it started (only its own processes: `ray stop` would stop every Ray process of the machine).
# Needs `shipyard[ray]` on PATH (e.g. PATH=.venv/bin:$PATH). About 40 s on two cores.
set -euo pipefail
WALK=${SHIPYARD_WALK_DIR:-$(mktemp -d /tmp/shipyard-walk-XXXXXX)}  # short: Ray's sockets live under it
mkdir -p "$WALK"
export RAY_TMPDIR=$WALK/ray  # the README's `export RAY_TMPDIR=/tmp/shipyard-ray`, one per walkthrough

ours() {  # the Ray processes this walkthrough started (their command lines name its folder), and all
  # their descendants
  local found next child
  found=$(pgrep -f -- "$RAY_TMPDIR/" || true)
  next=$found
  while [ -n "${next// /}" ]; do
    child=""
    for p in $next; do child="$child $(pgrep -P "$p" || true)"; done
    next=$child
    found="$found $child"
  done
  for p in $found; do  # those still alive (a zombie is gone already, whoever reaps it)
    case $(ps -o stat= -p "$p" 2>/dev/null) in Z* | "") ;; *) printf '%s ' "$p" ;; esac
  done
}

stop_cluster() {
  local pids tries=0
  # shellcheck disable=SC2086
  while pids=$(ours) && [ -n "${pids// /}" ] && [ $tries -lt 100 ]; do
    kill -9 $pids 2>/dev/null || true
    tries=$((tries + 1))
    sleep 0.1  # a killed process leaves the table a moment later; a dying raylet may still fork one
  done
  [ -n "${SHIPYARD_WALK_DIR:-}" ] || rm -rf "$WALK"
}
trap stop_cluster EXIT

command -v ray >/dev/null || { echo "walkthrough: no ray on PATH; pip install 'shipyard[ray]'" >&2; exit 1; }
if (exec 3<>/dev/tcp/127.0.0.2/6390) 2>/dev/null; then
  echo "walkthrough: something already listens on 127.0.0.2:6390; stop it first" >&2
  exit 1
fi
cd "$WALK"
# README walkthrough: begin
export RAY_AUTH_MODE=token                 # Ray's token authentication, on every node and for shipyard
ray get-auth-token --generate >/dev/null   # the token, in ~/.ray/auth_token (made once, never printed)
ray start --head --node-ip-address=127.0.0.2 --port=6390 --num-cpus=1 --resources='{"head": 1}' \
  --include-dashboard=false --disable-usage-stats
ray start --address=127.0.0.2:6390 --node-ip-address=127.0.0.3 --num-cpus=1 --resources='{"worker_slot": 4}'
ray start --address=127.0.0.2:6390 --node-ip-address=127.0.0.4 --num-cpus=1 --resources='{"worker_slot": 4}'
git init -q -b main walkthrough && cd walkthrough   # or a repository of yours
git -c user.name=me -c user.email=me@example.com commit -q --allow-empty -m start
cat > shipyard.toml <<EOF
[cluster]
address = "127.0.0.2:6390"          # the head's Ray port; --address on the command line also does
node_ip = "127.0.0.2"               # this machine as the cluster sees it
node_dir = "$RAY_TMPDIR/nodes"      # each node's mirror, clones and worktrees
[models]
default = "sim"                     # simulated agents: no LLM, no key
[sim]
tasks = 6
EOF
shipyard doctor . --engine ray            # the cluster, its nodes and slots, what each node lacks
shipyard run . --engine ray --workers 8   # the workers run on 127.0.0.3 and 127.0.0.4
shipyard status .                         # with the tasks and agents of each node
# README walkthrough: end

status=$(shipyard status . --json)
for node in 127.0.0.3 127.0.0.4; do
  tasks=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["nodes"].get(sys.argv[1], {}).get("tasks", 0))' \
    "$node" <<<"$status")
  [ "$tasks" -gt 0 ] || { echo "walkthrough: no task ran on $node" >&2; exit 1; }
done
echo "walkthrough: ok, both worker nodes ran tasks"
