"""`shipyard bench`: which scenarios to run with which settings, run in one process, rows as plain dicts."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from shipyard.bench.baselines import BASELINES, BaselinePlan, run_baselines
from shipyard.bench.coordination import run_coordination
from shipyard.bench.gatewaypath import run_gateway
from shipyard.bench.gitpath import MIXES, run_git
from shipyard.bench.measure import filesystem
from shipyard.bench.pathologies import PATHOLOGIES, run_pathologies
from shipyard.bench.tokens import PROVIDERS as TOKEN_PROVIDERS
from shipyard.bench.tokens import TokenPlan, run_tokens
from shipyard.errors import ConfigError
from shipyard.models.sim import SimWorkload
from shipyard.sections import ray_installed

SCENARIOS = ("coordination", "git", "baselines", "pathologies", "tokens", "gateway", "cluster")
# What runs when no scenario is named: `cluster` needs the `ray` extra and starts a local Ray cluster.
DEFAULT_SCENARIOS = SCENARIOS[:-1]
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """One scenario's settings: fleet sizes, think time, tasks per agent and variants (mixes, designs)."""

    sizes: tuple[int, ...]
    think_ms: float
    per_agent: int
    variants: tuple[str, ...] = ()
    git_think_ms: float = 0.0  # baselines only: think time of the git designs


@dataclass(frozen=True)
class BenchOptions:
    """The whole run; the defaults are the full benchmark (a few minutes on two cores)."""

    coordination: Scenario | None = field(
        default_factory=lambda: Scenario((1, 4, 16, 64, 256, 1024), 1500, 8)
    )
    git: Scenario | None = field(
        default_factory=lambda: Scenario(
            (1, 4, 16, 64), 50, 4, ("disjoint", "hot", "merge_batched", "merge_serial")
        )
    )
    baselines: Scenario | None = field(
        default_factory=lambda: Scenario((1, 20, 40), 200, 4, tuple(BASELINES), git_think_ms=50)
    )
    pathologies: Scenario | None = field(default_factory=lambda: Scenario((), 0, 0, tuple(PATHOLOGIES)))
    think_jitter: float = 0.25
    seed: int = 0
    # Providers' token bills for one worker session (no fleet sizes: one session per provider).
    tokens: Scenario | None = field(default_factory=lambda: Scenario((), 0, 0, tuple(TOKEN_PROVIDERS)))
    # Streamed calls of N agents, direct and through the model gateway: think_ms between calls (jittered),
    # per_agent calls each.
    gateway: Scenario | None = field(default_factory=lambda: Scenario((64,), 1000, 10))
    # The same sim fleet locally and on a local 3-node Ray cluster: workers, think_ms per task, tasks per
    # worker; on a 1,000-file repository, local and Ray alternating 3 times, then a node killed mid-run.
    cluster: Scenario | None = field(default_factory=lambda: Scenario((24,), 1000, 4))


def parse_scenarios(specs: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """`git:disjoint,hot` -> {"git": ("disjoint", "hot")}; a bare name keeps its default variants."""
    known = {
        "coordination": (),
        "git": tuple(MIXES),
        "baselines": tuple(BASELINES),
        "tokens": tuple(TOKEN_PROVIDERS),
        "pathologies": tuple(PATHOLOGIES),
        "gateway": (),
        "cluster": (),
    }
    out: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        name, _, rest = spec.partition(":")
        if name not in known:
            raise ConfigError(f"unknown scenario `{name}`; expected one of {', '.join(SCENARIOS)}")
        variants = tuple(v.strip() for v in rest.split(",") if v.strip())
        wrong = [v for v in variants if v not in known[name]]
        if wrong:
            expected = ", ".join(known[name]) or "none"
            raise ConfigError(f"unknown variant `{wrong[0]}` of `{name}`; expected one of {expected}")
        out[name] = variants
    return out


def configure(
    specs: Sequence[str],
    sizes: Sequence[int] = (),
    think_ms: float | None = None,
    per_agent: int | None = None,
) -> BenchOptions:
    """Options from the command line: chosen scenarios (all when none), with overrides for every one."""
    chosen = parse_scenarios(specs) if specs else dict.fromkeys(DEFAULT_SCENARIOS, ())
    base = BenchOptions()
    picked: dict[str, Scenario | None] = {}
    for name in SCENARIOS:
        default: Scenario | None = getattr(base, name)
        if name not in chosen or default is None:
            picked[name] = None
            continue
        s = replace(default, variants=chosen[name] or default.variants)
        if sizes:
            s = replace(s, sizes=tuple(sizes))
        if think_ms is not None:
            s = replace(s, think_ms=think_ms, git_think_ms=think_ms)
        if per_agent is not None:
            s = replace(s, per_agent=per_agent)
        picked[name] = s
    return BenchOptions(
        picked["coordination"],
        picked["git"],
        picked["baselines"],
        picked["pathologies"],
        tokens=picked["tokens"],
        gateway=picked["gateway"],
        cluster=picked["cluster"],
    )


def run_bench(opts: BenchOptions, progress: Callable[[str], None]) -> dict[str, Rows]:
    """Run the chosen scenarios in order; one list of rows per scenario. `progress` hears of each
    scenario as it starts and of each row as it is measured."""

    def row(line: str) -> None:
        progress(f"  {line}")

    load = SimWorkload(think_jitter=opts.think_jitter, seed=opts.seed)
    results: dict[str, Rows] = {}
    if opts.coordination is not None:
        s = opts.coordination
        progress(f"running coordination: {', '.join(map(str, s.sizes))} workers, think {s.think_ms:g} ms")
        w = replace(load, think_ms=s.think_ms)
        sizes = sorted({1, *s.sizes})
        results["coordination"] = [
            asdict(r) for r in run_coordination(sizes, w, s.per_agent, s.per_agent, row)
        ]
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as scratch:
        if opts.git is not None:
            s = opts.git
            progress(f"running git: {', '.join(map(str, s.sizes))} workers, mixes {', '.join(s.variants)}")
            w = replace(load, think_ms=s.think_ms)
            git_rows = run_git(s.sizes, s.variants, w, s.per_agent, Path(scratch), row)
            results["git"] = [asdict(r) for r in git_rows]
        if opts.baselines is not None:
            s = opts.baselines
            progress(f"running baselines: {', '.join(s.variants)} at {', '.join(map(str, s.sizes))} agents")
            plan = BaselinePlan(
                s.sizes,
                s.variants,
                replace(load, think_ms=s.think_ms),
                replace(load, think_ms=s.git_think_ms),
                s.per_agent,
                Path(scratch),
            )
            results["baselines"] = [asdict(r) for r in run_baselines(plan, row)]
        if opts.pathologies is not None:
            progress(f"running pathologies: {', '.join(opts.pathologies.variants)}")
            staged = run_pathologies(opts.pathologies.variants, Path(scratch), row)
            results["pathologies"] = [asdict(r) for r in staged]
    if opts.tokens is not None:
        results["tokens"] = _tokens(opts.tokens, progress, row)
    if opts.gateway is not None:
        results["gateway"] = _gateway(opts.gateway, progress, row)
    if opts.cluster is not None:
        results["cluster"] = _cluster(opts.cluster, progress, row)
    return results


def _cluster(s: Scenario, progress: Callable[[str], None], row: Callable[[str], None]) -> Rows:
    if not ray_installed():
        raise ConfigError("the cluster scenario runs a local Ray cluster; run `pip install 'shipyard[ray]'`")
    from shipyard.bench.clusterpath import ClusterPlan, run_cluster  # imports Ray's parts lazily

    rows: Rows = []
    for workers in s.sizes:
        plan = ClusterPlan(workers, workers * s.per_agent, think_ms=s.think_ms)
        progress(
            f"running cluster: {workers} sim workers, {plan.tasks} tasks of {plan.think_ms:g} ms, "
            f"{plan.files} files, local and on 3 Ray nodes ({plan.repeats} rounds), then a node killed"
        )
        with tempfile.TemporaryDirectory(prefix="sybench-") as scratch:  # TMPDIR picks the disk
            progress(f"  repositories, worktrees and nodes on {filesystem(Path(scratch))} ({scratch})")
            rows += [asdict(r) for r in run_cluster(plan, Path(scratch), row)]
    return rows


def _gateway(s: Scenario, progress: Callable[[str], None], row: Callable[[str], None]) -> Rows:
    progress(f"running gateway: {', '.join(map(str, s.sizes))} agents, {s.per_agent} streamed calls each")
    rows: Rows = []
    for agents in s.sizes:
        for measured in run_gateway(agents, s.per_agent, think_ms=s.think_ms):
            rows.append(asdict(measured))
            row(
                f"{measured.path} x{agents}: first byte p50 {measured.first_byte_p50_ms} ms, "
                f"total p50 {measured.total_p50_ms} ms"
            )
    return rows


def _tokens(s: Scenario, progress: Callable[[str], None], row: Callable[[str], None]) -> Rows:
    plan = TokenPlan()
    progress(f"running tokens: a {plan.steps}-step worker session on {', '.join(s.variants)}")
    return [asdict(r) for r in run_tokens(s.variants, plan, row)]
