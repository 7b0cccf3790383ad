"""The same sim fleet on this machine and on a local multi-node Ray cluster (loopback: a head on
127.0.0.2 and two worker nodes on .3 and .4), on a repository of `files` files.

Local and Ray runs alternate `repeats` times after one cold Ray run (actors start), so both see the same
machine; each row is the median. Then a node is killed mid-run: every task must still end done, with no
commit lost and none merged twice, without a person. Needs the `ray` extra.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.backends.process import descendants
from shipyard.bench.measure import percentile
from shipyard.board.sqlite import SqliteBoard
from shipyard.cli.sim import build_sim_model, with_sim_goal
from shipyard.config import ShipyardConfig
from shipyard.domain import Event, Role, TaskStatus
from shipyard.fleet.executor import Executor, LocalExecutor
from shipyard.fleet.run import Fleet
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.git import GitRepo, init_repo
from shipyard.git.ref import is_ancestor

HEAD_IP, NODE_IPS = "127.0.0.2", ("127.0.0.3", "127.0.0.4")
# Faster health checks than Ray's defaults, so a killed node is declared dead in about 3 s, not 15.
HEALTH = {
    "health_check_initial_delay_ms": 1000,
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 3,
}


@dataclass(frozen=True)
class ClusterPlan:
    workers: int = 24
    tasks: int = 96
    files: int = 1000
    think_ms: float = 1000.0
    repeats: int = 3


@dataclass(frozen=True)
class ClusterRow:
    """One line: an engine's median run, or the node-kill run. Times in ms; `-` where it does not apply."""

    run: str
    workers: int
    tasks: int
    tasks_per_s: float
    efficiency: float  # think time the slots had to spend / the time they had (1.0 is ideal)
    vs_local: float | None  # this run's efficiency / the local run's
    cpu_ms_per_task: float | None  # this process and every process below it (the local cluster included)
    wait_out_p50: float | None = None  # a task's wait for its code to be on its node (0: it was)
    wait_out_p95: float | None = None
    ship_p50: float | None = None  # one shipment of new commits to a node
    ship_p95: float | None = None
    back_p50: float | None = None  # a task's commit fetched back from its node
    back_p95: float | None = None
    memory_mb: float | None = None  # RSS summed over the head and the local cluster, actors alive
    done: int | None = None  # with a node killed: tasks done, commits lost, tasks merged twice
    lost_commits: int | None = None
    merged_twice: int | None = None


@dataclass
class _Measured:
    tasks: int
    span_s: float
    efficiency: float
    cpu_ms: float
    events: list[Event]


def run_cluster(plan: ClusterPlan, scratch: Path, row: Callable[[str], None]) -> list[ClusterRow]:
    """Every row of the scenario; `row` hears of each run as it ends."""
    from shipyard.cluster.executor import RayExecutor

    runs: dict[str, list[_Measured]] = {"local": [], "ray": []}
    transport: list[tuple[str, float, int]] = []
    shipments: list[float] = []
    with _local_cluster(plan, scratch) as cluster:
        executor = RayExecutor(_config(plan, cluster).cluster, plan.workers)
        try:
            cold = _run(_repo(scratch / "cold", plan.files), _config(plan, cluster), executor)
            row(f"ray, cold (actors start): efficiency {cold.efficiency:.2f}")
            for n in range(plan.repeats):
                local = _run(_repo(scratch / f"local-{n}", plan.files), _config(plan, None), LocalExecutor())
                sent = len(executor.shipper.sent)
                ray_run = _run(_repo(scratch / f"ray-{n}", plan.files), _config(plan, cluster), executor)
                transport += executor.runners[-1].transport_ms
                shipments += [s.ms for s in executor.shipper.sent[sent:]]
                runs["local"].append(local)
                runs["ray"].append(ray_run)
                row(f"round {n + 1}: efficiency local {local.efficiency:.2f}, ray {ray_run.efficiency:.2f}")
            memory = _tree_rss_mb(os.getpid())  # shared pages are counted in each process
            fault = _killed_node_run(plan, scratch, cluster, executor)
        finally:
            executor.close()
    local_row, ray_row = _rows(plan, runs, transport, shipments)
    return [local_row, ClusterRow(**{**vars(ray_row), "memory_mb": round(memory)}), fault]


def _rows(
    plan: ClusterPlan,
    runs: dict[str, list[_Measured]],
    transport: list[tuple[str, float, int]],
    shipments: list[float],
) -> list[ClusterRow]:
    local_eff = statistics.median(m.efficiency for m in runs["local"])
    out = []
    for engine, measured in runs.items():
        eff = statistics.median(m.efficiency for m in measured)
        span = statistics.median(m.span_s for m in measured)
        cpu = statistics.median(m.cpu_ms for m in measured)
        base = ClusterRow(
            f"{engine} (median of {len(measured)})",
            plan.workers,
            measured[0].tasks,
            round(measured[0].tasks / span, 2),
            round(eff, 3),
            round(eff / local_eff, 3) if engine == "ray" else None,
            round(cpu),
        )
        out.append(base if engine == "local" else _with_transport(base, transport, shipments))
    return out


def _with_transport(
    row: ClusterRow, transport: list[tuple[str, float, int]], shipments: list[float]
) -> ClusterRow:
    waits = [ms for way, ms, _ in transport if way == "out"]
    backs = [ms for way, ms, _ in transport if way == "back"]
    return ClusterRow(
        **{
            **vars(row),
            "wait_out_p50": _pct(waits, 0.5),
            "wait_out_p95": _pct(waits, 0.95),
            "ship_p50": _pct(shipments, 0.5),
            "ship_p95": _pct(shipments, 0.95),
            "back_p50": _pct(backs, 0.5),
            "back_p95": _pct(backs, 0.95),
        }
    )


def _pct(values: list[float], q: float) -> float | None:
    return round(percentile(values, q * 100), 1) if values else None


def _killed_node_run(plan: ClusterPlan, scratch: Path, cluster: Any, executor: Any) -> ClusterRow:
    """The fleet again; once a third of its tasks merged, one worker node is killed (all its processes)."""
    merged, killed = [0], threading.Event()
    victim = cluster.nodes[NODE_IPS[1]]

    def on_event(event: Event) -> None:
        merged[0] += event.kind == "CommitMerged"
        if merged[0] == plan.tasks // 3 and not killed.is_set():
            killed.set()
            kill = threading.Thread(target=cluster.cluster.remove_node, args=(victim, False), daemon=True)
            kill.start()

    root = _repo(scratch / "killed", plan.files)
    measured = _run(root, _config(plan, cluster), executor, on_event)
    done, lost, twice = _landings(root, measured.events)
    run = "ray, a node killed" if killed.is_set() else "ray (the node was never killed)"
    return ClusterRow(
        run,
        plan.workers,
        measured.tasks,
        round(measured.tasks / measured.span_s, 2),
        round(measured.efficiency, 3),
        None,
        None,  # the killed node's processes took their CPU figures with them
        done=done,
        lost_commits=lost,
        merged_twice=twice,
    )


def _landings(root: Path, events: list[Event]) -> tuple[int, int, int]:
    """(code tasks done, done tasks whose merged commit is not on main, tasks merged more than once)."""
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    try:
        done = {t.id for t in board.tasks() if t.status is TaskStatus.DONE}
    finally:
        board.close()
    code = {e.task_id for e in events if e.kind == "WorkerPlaced" and e.task_id is not None}
    merges: dict[int, list[str]] = {}
    for e in events:
        if e.kind == "CommitMerged" and e.task_id is not None:
            merges.setdefault(e.task_id, []).append(str(e.data["sha"]))
    on_main = {task for task, shas in merges.items() if all(is_ancestor(root, sha, "main") for sha in shas)}
    return len(done & code), len((done & code) - on_main), sum(len(s) > 1 for s in merges.values())


@contextmanager
def _local_cluster(plan: ClusterPlan, scratch: Path) -> Iterator[Any]:
    """A head (no worker slots) and two worker nodes sharing the workers' slots, each on its own
    loopback address; this process joins as the driver."""
    import ray
    from ray.cluster_utils import Cluster

    from shipyard.cluster.noise import quiet_cluster_messages

    os.environ["RAY_TMPDIR"] = str(scratch / "ray")  # Ray's sockets: a short path, outside any venv
    head = {
        "node_ip_address": HEAD_IP,
        "num_cpus": 1,
        "resources": {"head": 1},
        "include_dashboard": False,
        "_system_config": HEALTH,
    }
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        slots = math.ceil(plan.workers / len(NODE_IPS))
        nodes = {
            ip: cluster.add_node(node_ip_address=ip, num_cpus=1, resources={"worker_slot": slots})
            for ip in NODE_IPS
        }
        cluster.wait_for_nodes()
        ray.init(
            address=cluster.address,
            _node_ip_address=HEAD_IP,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        # The node this bench kills would otherwise print its raylet's last log lines here.
        logging.getLogger("ray._private.worker").setLevel(logging.ERROR)
        quiet_cluster_messages()
        yield _Cluster(cluster, nodes)
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]


@dataclass
class _Cluster:
    cluster: Any
    nodes: dict[str, Any]

    @property
    def address(self) -> str:
        return str(self.cluster.address)


def _repo(root: Path, files: int) -> Path:
    for i in range(files):
        path = root / "src" / f"d{i % 40:02d}" / f"f{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}\n" * 20)
    return init_repo(root, "main", HARNESS, f"{files} files").root


def _config(plan: ClusterPlan, cluster: _Cluster | None) -> ShipyardConfig:
    raw: dict[str, object] = {
        "workers": plan.workers,
        "max_cycles": 1,
        "models": {"default": "sim"},
        "sim": {"tasks": plan.tasks, "think_ms": plan.think_ms, "think_jitter": 0.25, "hot_share": 0.0},
        "fleet": {"max_tasks_per_planner": plan.tasks, "planner_wakes": 0},
    }
    if cluster is not None:
        node_dir = Path(os.environ["RAY_TMPDIR"]).parent / "nodes"
        raw["cluster"] = {
            "engine": "ray",
            "address": cluster.address,
            "node_ip": HEAD_IP,
            "node_dir": str(node_dir),
        }
    return with_sim_goal(ShipyardConfig.model_validate(raw))


def _run(
    root: Path, config: ShipyardConfig, executor: Executor, progress: Callable[[Event], None] | None = None
) -> _Measured:
    repo = GitRepo.open(root)
    board = SqliteBoard(root / ".shipyard" / "board.sqlite")
    model = build_sim_model(config)
    rt = Runtime(config, repo, board, {r: model for r in Role}, progress=progress)
    cpu = _tree_cpu_s(os.getpid())
    asyncio.run(Fleet(rt, executor).run())
    cpu = _tree_cpu_s(os.getpid()) - cpu
    events = board.events()
    board.close()
    claimed = [e.ts for e in events if e.kind == "TaskClaimed" and (e.agent or "").startswith("worker")]
    done = [e.ts for e in events if e.kind == "TaskCompleted"]
    span = max(done) - min(claimed) if done and claimed else float("nan")
    ideal = len(done) * config.sim.think_ms / 1000 / config.workers
    return _Measured(len(done), span, ideal / span, cpu * 1000 / max(len(done), 1), events)


def _tree(root: int) -> set[int]:
    """`root` and every process below it."""
    return {root} | descendants(root)


def _tree_rss_mb(root: int) -> float:
    """RSS summed over `root` and every process below it, in MB."""
    kb = 0
    for pid in _tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


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
