"""The cluster bench: one sim fleet run locally, then on a local multi-node Ray cluster (loopback), on a
repository of `--files` files; prints tasks/s, efficiency and what moving code costs per task.

    python -m shipyard.cluster.bench --workers 24 --tasks 96 --files 1000 --think-ms 1000
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.sim import build_sim_model, with_sim_goal
from shipyard.cluster.executor import RayExecutor
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.fleet.executor import Executor, LocalExecutor
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.git import GitRepo, init_repo

HEAD_IP, NODE_IPS = "127.0.0.2", ("127.0.0.3", "127.0.0.4")
_HEALTH = {"health_check_initial_delay_ms": 1000, "health_check_period_ms": 1000}


@dataclass(frozen=True)
class Row:
    engine: str
    tasks: int
    span_s: float
    tasks_per_s: float
    efficiency: float  # the think time the slots had to spend, over what they had: 1.0 is ideal
    cpu_ms: float  # CPU per task, summed over this process and every process below it (the local cluster)


def _repo(root: Path, files: int) -> GitRepo:
    for i in range(files):
        path = root / "src" / f"d{i % 40:02d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}\n" * 20)
    return init_repo(root, "main", HARNESS, f"{files} files")


def _config(args: argparse.Namespace, cluster: dict[str, object] | None) -> ShipyardConfig:
    raw: dict[str, object] = {
        "workers": args.workers,
        "max_cycles": 1,
        "models": {"default": "sim"},
        "sim": {"tasks": args.tasks, "think_ms": args.think_ms, "think_jitter": 0.25, "hot_share": 0.0},
        "fleet": {"max_tasks_per_planner": args.tasks, "planner_wakes": 0},
    }
    if cluster is not None:
        raw["cluster"] = cluster
    return with_sim_goal(ShipyardConfig.model_validate(raw))


def _run(root: Path, config: ShipyardConfig, executor: Executor) -> Row:
    repo = GitRepo.open(root)
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    model = build_sim_model(config)
    rt = Runtime(config, repo, board, {r: model for r in Role})
    cpu = _tree_cpu_s(os.getpid())
    asyncio.run(Fleet(rt, executor).run())
    cpu = _tree_cpu_s(os.getpid()) - cpu
    events = board.events()
    claimed = [e.ts for e in events if e.kind == "TaskClaimed" and e.agent and e.agent.startswith("worker")]
    done = [e.ts for e in events if e.kind == "TaskCompleted"]
    tasks = len(done)
    span = max(done) - min(claimed) if done and claimed else float("nan")
    ideal = tasks * config.sim.think_ms / 1000 / config.workers
    board.close()
    return Row(executor.name, tasks, span, tasks / span, ideal / span, cpu * 1000 / max(tasks, 1))


def _start_cluster(slots: int, store: Path) -> Cluster:
    os.environ.setdefault("RAY_TMPDIR", str(store))
    head = {
        "node_ip_address": HEAD_IP,
        "num_cpus": 1,
        "resources": {"head": 1},
        "include_dashboard": False,
        "_system_config": _HEALTH,
    }
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for ip in NODE_IPS:
        cluster.add_node(node_ip_address=ip, num_cpus=1, resources={"worker_slot": slots})
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, _node_ip_address=HEAD_IP, log_to_driver=False)
    return cluster


def _tree(root: int) -> set[int]:
    """`root` and every process below it (read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return tree


def _tree_rss_mb(root: int) -> float:
    """RSS summed over `root` and every process below it, in MB."""
    total_kb = 0
    for pid in _tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kb += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total_kb / 1024


def _tree_cpu_s(root: int) -> float:
    """CPU seconds used by `root` and every live process below it (with the children they reaped)."""
    ticks = 0
    for pid in _tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"n={len(values)} p50={statistics.median(ordered):.1f} ms p95={p95:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=24)
    parser.add_argument("--tasks", type=int, default=96)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--think-ms", type=float, default=1000.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-cbench-", dir="/tmp") as scratch:
        tmp = Path(scratch)
        local = _run(_repo(tmp / "local", args.files).root, _config(args, None), LocalExecutor())
        cluster = _start_cluster(math.ceil(args.workers / len(NODE_IPS)), tmp / "ray")
        try:
            settings = {"engine": "ray", "address": cluster.address, "node_dir": str(tmp / "nodes")}
            config = _config(args, {**settings, "node_ip": HEAD_IP})
            executor = RayExecutor(config.cluster, config.workers)
            cold = _run(_repo(tmp / "ray-cold", args.files).root, config, executor)
            cold = Row("ray (cold: actors start)", *list(vars(cold).values())[1:])
            cold_sent = len(executor.shipper.sent)
            remote = _run(_repo(tmp / "ray-warm", args.files).root, config, executor)
            sent = executor.shipper.sent[cold_sent:]
            remote = Row("ray (warm actors)", *list(vars(remote).values())[1:])
            moves = executor.runners[-1].transport_ms
            rss_mb = _tree_rss_mb(os.getpid())  # the head and the whole local cluster, actors alive
            executor.close()
        finally:
            ray.shutdown()
            cluster.shutdown()  # type: ignore[no-untyped-call]
    print(f"{args.workers} workers, {args.tasks} sim tasks of {args.think_ms:.0f} ms, {args.files} files")
    for row in (local, cold, remote):
        print(
            f"{row.engine:26} {row.tasks} tasks in {row.span_s:.2f} s: {row.tasks_per_s:.2f} tasks/s, "
            f"efficiency {row.efficiency:.2f}, CPU {row.cpu_ms:.0f} ms per task"
        )
    print(f"ray/local efficiency: {remote.efficiency / local.efficiency:.2f}")
    print(f"memory of the head and the cluster (RSS summed, shared pages twice): {rss_mb:.0f} MB")
    waits = [m for w, m, _ in moves if w == "out"]
    print(f"code out, per task (waited for its node to hold its start): {_percentiles(waits)}")
    kb = f", mean {statistics.mean(s.size for s in sent) / 1024:.1f} KB" if sent else ""
    print(f"code out, per shipment to a node: {_percentiles([s.ms for s in sent])}{kb}")
    back = [(m, b) for w, m, b in moves if w == "back"]
    kb = f", mean {statistics.mean(b for _, b in back) / 1024:.1f} KB" if back else ""
    print(f"commit back, per task: {_percentiles([m for m, _ in back])}{kb}")


if __name__ == "__main__":
    main()
