"""The `push_retry` design, on real git: each peer has its own clone and fetches, rebases and pushes.

Peers share one bare repository. A peer thinks, commits its task's file, and pushes; when the push is
refused because another peer pushed first, it pulls with rebase and pushes again, until it lands. Tasks
are dealt to peers in advance (no coordination cost at all), so what is measured is the branch alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from shipyard.bench.measure import Stopwatch
from shipyard.bench.peers import PeerRun
from shipyard.git.identity import Identity, identity_env
from shipyard.git.run import git
from shipyard.models.sim import SimWorkload

MAX_PUSHES = 500


def _setup(root: Path, agents: int) -> list[Path]:
    """A bare `origin` with one commit on `main`, and one clone per peer."""
    origin, seed = root / "origin.git", root / "seed"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(origin))
    seed.mkdir()
    (seed / "README.md").write_text("# push/retry target\n", encoding="utf-8")
    git(seed, "init", "--quiet", "-b", "main")
    git(seed, "add", "--all")
    git(seed, "commit", "--quiet", "-m", "init")
    git(seed, "push", "--quiet", str(origin), "main")
    clones = [root / f"peer-{k + 1}" for k in range(agents)]
    for clone in clones:
        git(root, "clone", "--quiet", str(origin), str(clone))
    return clones


def _land(clone: Path, name: str, path: str, content: str) -> int:
    """Commit one file and push it, pulling with rebase after every refusal; the number of refusals."""
    env = identity_env(Identity(name, f"{name}@peers.local"), Identity(name, f"{name}@peers.local"))
    target = clone / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "--no-verify", "-m", path, env=env)
    for refused in range(MAX_PUSHES):
        if git(clone, "push", "--quiet", "origin", "HEAD:main", ok=(0, 1)).code == 0:
            return refused
        git(clone, "pull", "--quiet", "--rebase", "origin", "main", env=env)
    raise RuntimeError(f"{name}: still refused after {MAX_PUSHES} pushes")


async def push_retry(root: Path, agents: int, w: SimWorkload) -> PeerRun:
    """Every task landed by its peer through fetch, rebase and push; timed from the first think."""
    clones = await asyncio.to_thread(_setup, root, agents)
    refusals = 0

    async def peer(k: int) -> int:
        nonlocal refusals
        done = 0
        for i in range(k, w.tasks, agents):
            await asyncio.sleep(w.think_s(i))
            content = f"sim task {i}\n"
            refusals += await asyncio.to_thread(_land, clones[k], f"peer-{k + 1}", w.own_path(i), content)
            done += 1
        return done

    watch = Stopwatch()
    counts = await asyncio.gather(*(peer(k) for k in range(agents)))
    span = watch.stop()
    return PeerRun(sum(counts), span.wall_s, refusals)
