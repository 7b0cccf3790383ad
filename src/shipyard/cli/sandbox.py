"""`shipyard sandbox-bench`: the sandbox's cost per command, median against the same command unsandboxed."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from shipyard.agent.sandbox import Sandbox, SandboxPolicy, unavailable_message
from shipyard.agent.shell import run_command
from shipyard.errors import UserError
from shipyard.git import SHIPYARD, init_repo

TARGET_MS = 50.0
out = Console(highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Timings:
    """Wall times of one command, in milliseconds, per run."""

    plain_ms: list[float]
    boxed_ms: list[float]

    @property
    def overhead_ms(self) -> float:
        return statistics.median(self.boxed_ms) - statistics.median(self.plain_ms)


async def _time(command: str, cwd: Path, box: Sandbox) -> float:
    started = time.perf_counter()
    result = await run_command(command, cwd, 60.0, box)
    if result.exit_code != 0:
        raise UserError(f"`{command}` failed (exit code {result.exit_code}): {result.output.strip()[:200]}")
    return (time.perf_counter() - started) * 1000


async def measure(command: str, cwd: Path, runs: int, box: Sandbox) -> Timings:
    """Run `command` `runs` times each way, alternating, after one warm-up run of each."""
    plain = Sandbox(SandboxPolicy(enabled=False))
    await _time(command, cwd, plain)
    await _time(command, cwd, box)
    timings = Timings([], [])
    for _ in range(runs):
        timings.plain_ms.append(await _time(command, cwd, plain))
        timings.boxed_ms.append(await _time(command, cwd, box))
    return timings


def _worktree(root: Path) -> Path:
    """A linked worktree of a fresh repository: the shape every agent command runs in."""
    repo_root = root / "repo"
    repo_root.mkdir()
    (repo_root / "README.md").write_text("bench\n")
    repo = init_repo(repo_root, "main", SHIPYARD, "bench")
    return repo.add_worktree(repo_root / ".shipyard" / "worktrees" / "bench", "shipyard/bench", "main")


def _row(name: str, values: list[float]) -> str:
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return f"  {name:<12} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms"


def report(command: str, runs: int, box: Sandbox, t: Timings) -> list[str]:
    """The lines the command prints."""
    host = box.host
    limit = "pids cgroup" if host.pids_cgroup else "RLIMIT_NPROC"
    return [
        f"sandbox: {host.bwrap} (process limit by {limit}); network "
        + ("on" if box.policy.network else "off"),
        f"command `{command}`, {runs} runs each way:",
        _row("unsandboxed", t.plain_ms),
        _row("sandboxed", t.boxed_ms),
        f"  overhead     median {t.overhead_ms:7.1f} ms per command (target < {TARGET_MS:g} ms)",
    ]


def sandbox_bench(
    runs: Annotated[int, typer.Option(min=1, max=10_000, help="Runs of the command each way.")] = 50,
    command: Annotated[str, typer.Option(help="The command to time.")] = "true",
    network: Annotated[bool, typer.Option(help="Time the sandbox with the network on.")] = False,
) -> None:
    """Print the sandbox's overhead per command: median against the same command unsandboxed."""
    box = Sandbox(SandboxPolicy(network=network))
    if box.host.problem:
        raise UserError(unavailable_message(box.host.problem))
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as temp:
        timings = asyncio.run(measure(command, _worktree(Path(temp)), runs, box))
    for line in report(command, runs, box, timings):
        out.print(line)
    raise typer.Exit(0 if timings.overhead_ms < TARGET_MS else 1)


def register(app: typer.Typer, guarded: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add `sandbox-bench` to the CLI; `guarded` turns user errors into one line and exit code 2."""
    app.command("sandbox-bench")(guarded(sandbox_bench))
