"""Red main is repaired, not just seen.

When the check fails on the shared branch's tip, the branch is red: the merges since the last green tip
are bisected (each probe runs the check on a scratch worktree; one bisection per red spell), the first
merge after which the check fails is the culprit, a fix task goes on the board above every other task,
under the planner that owns the culprit's task, and that planner is woken with the failing output and
the commit. A branch that was red before any merge of the run (a project still being built) has no
culprit and gets no fix: making it pass is the goal's work. A green check ends the spell. Every step is
an event: `MainRed`, `CulpritFound`, `FixWritten`, `MainGreen` (with how long the branch was red).

With `fleet.red_main = "revert"` the culprit merge is taken back off the branch instead
(`MergeReverted`) and its task goes back on the board at top priority with why; a revert that does not
merge cleanly falls back to a fix task.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from shipyard.domain import Event, Task, TaskSpec
from shipyard.fleet.health import CheckResult, run_check
from shipyard.fleet.runtime import HARNESS, Runtime
from shipyard.git import MergeResult

MAX_FIXES = 3  # fix tasks per red spell; after that the branch stays red and the judge sees it
HEALTH_META = "branch_health"
GREEN_META = "last_green_sha"
_ROOT = "planner"
_OUTPUT_CHARS = 1500
Land = Callable[[Task, str, str], Awaitable[MergeResult]]


@dataclass(frozen=True)
class Merge:
    """One landing on the shared branch, as the log has it: the tip it made and its task."""

    sha: str
    old_tip: str | None
    task_id: int | None
    agent: str | None


@dataclass
class RedSpell:
    """The shared branch from its first red check to its next green one."""

    since: float
    red_sha: str
    last_green: str | None
    failing: CheckResult
    culprit: Merge | None = None
    window: list[Merge] = field(default_factory=list)
    fixes: list[int] = field(default_factory=list)
    bisected: bool = False


class Repair:
    """Follows the check's results; see the module's doc."""

    def __init__(self, rt: Runtime, land: Land) -> None:
        self._rt = rt
        self._land = land  # the merger's: how a revert reaches the shared branch
        self._last_green: str | None = rt.board.get_meta(GREEN_META)  # kept across restarts
        self._bisect: asyncio.Task[None] | None = None
        self.spell: RedSpell | None = None
        if rt.board.get_meta(HEALTH_META) == "red":
            self.spell = self._restore(rt.board.events())

    def _restore(self, events: list[Event]) -> RedSpell | None:
        """The red spell a restart interrupted, from the log (read once, only when red): its culprit and
        fixes; the merges are kept for a bisection still to do."""
        if not self._rt.merges:
            self._rt.merges.extend(e for e in events if e.kind == "CommitMerged")
        start = max((n for n, e in enumerate(events) if e.kind == "MainRed"), default=None)
        if start is None:
            return None
        red = events[start]
        sha = str(red.data.get("sha"))
        failing = CheckResult(sha, False, int(red.data.get("exit_code") or 1), "", 0.0)
        spell = RedSpell(red.ts, sha, red.data.get("last_green"), failing)
        for e in events[start:]:
            if e.kind == "CulpritFound":
                culprit = Merge(str(e.data.get("sha")), None, e.task_id, e.agent) if e.task_id else None
                spell.culprit, spell.bisected = culprit, True
            elif e.kind in ("FixWritten", "MergeReverted"):
                spell.fixes.append(int(e.data.get("redo") or e.task_id or 0))
        return spell

    def on_check(self, result: CheckResult) -> None:
        """Called with every check of the tip, in order."""
        if result.passed:
            self._green(result)
        elif self.spell is None:
            self._red(result)
        else:
            self.spell.failing = result
            if not self.spell.bisected and self._bisect is None:  # restored before its culprit was found
                self.spell.red_sha = result.sha
                self._bisect = asyncio.get_running_loop().create_task(self._find_culprit(self.spell))
            elif self._fix_failed(result.sha) and len(self.spell.fixes) < MAX_FIXES:
                self._write_fix(self.spell)  # the fix ended but the branch is still red: try again

    def pending(self) -> bool:
        """Red, with a fix on the board still to do (or a bisection still running)."""
        if self.spell is None:
            return False
        return not self.spell.bisected or self._fix_active()

    async def settle(self) -> None:
        """Wait for a running bisection (a stopping run does not wait: the bisection is cancelled)."""
        if self._bisect is not None:
            if self._rt.stop.is_set:
                self._bisect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bisect

    def _fix_failed(self, red_sha: str) -> bool:
        """The last fix ended and did not help: it failed, or `red_sha` is a tip made after it landed
        (a check that started before the fix landed says nothing about it)."""
        assert self.spell is not None
        if not self.spell.bisected or self.spell.culprit is None or self._fix_active():
            return False
        if not self.spell.fixes:
            return True
        landed = self._rt.board.get(self.spell.fixes[-1]).commits
        if not landed:
            return True
        tips = [str(e.data.get("sha")) for e in self._rt.merges]
        return red_sha in tips and landed[-1] in tips and tips.index(red_sha) >= tips.index(landed[-1])

    def _fix_active(self) -> bool:
        assert self.spell is not None
        return any(not self._rt.board.get(i).is_final for i in self.spell.fixes)

    def _green(self, result: CheckResult) -> None:
        if result.sha != self._last_green:
            self._last_green = result.sha
            self._rt.board.set_meta(GREEN_META, result.sha)
        spell, self.spell = self.spell, None
        if spell is None:
            return
        data = {
            "sha": result.sha,
            "red_s": round(time.time() - spell.since, 3),
            "culprit": None if spell.culprit is None else spell.culprit.sha,
            "culprit_task": None if spell.culprit is None else spell.culprit.task_id,
            "fixes": spell.fixes,
        }
        self._rt.record(Event("MainGreen", data))
        self._rt.board.set_meta(HEALTH_META, "green")

    def _red(self, result: CheckResult) -> None:
        self.spell = RedSpell(time.time(), result.sha, self._last_green, result)
        data = {"sha": result.sha, "last_green": self._last_green, "exit_code": result.exit_code}
        self._rt.record(Event("MainRed", data))
        self._rt.board.set_meta(HEALTH_META, "red")
        self._bisect = asyncio.get_running_loop().create_task(self._find_culprit(self.spell))

    async def _find_culprit(self, spell: RedSpell) -> None:
        """Bisect the merges between the last green tip and the red one; then write the fix."""
        try:
            await self._bisect_spell(spell)
        finally:
            spell.bisected = True
        if self.spell is not spell or spell.culprit is None or self._rt.stop.is_set:
            return  # red from before this run's merges is the goal's work, not a repair
        if self._rt.config.fleet.red_main == "revert" and await self._revert(spell, spell.culprit):
            return
        self._write_fix(spell)

    async def _revert(self, spell: RedSpell, culprit: Merge) -> bool:
        """Take the culprit merge back off the branch and put its task on the board again (top
        priority, with why); False when that cannot be done mechanically (then a fix task is written)."""
        if culprit.task_id is None or culprit.old_tip is None:
            return False
        rt, task = self._rt, self._rt.board.get(culprit.task_id)
        message = f"Revert #{task.id} {task.title}\n\nIt broke `{rt.config.check}` on `{rt.config.branch}`.\n"
        undo = await asyncio.to_thread(rt.repo.undo_commit, culprit.sha, culprit.old_tip, message, HARNESS)
        result = await self._land(task, HARNESS.name, undo)
        if not result.merged or result.sha is None:
            return False
        top = max((t.spec.priority for t in rt.board.tasks()), default=0) + 1
        redo = rt.board.add_task(redo_spec(rt, spell, task, top))
        spell.fixes.append(redo.id)
        data = {"culprit": culprit.sha, "sha": result.sha, "redo": redo.id}
        rt.record(Event("MergeReverted", data, task.id, task.spec.planner))
        rt.wake_requests.append((task.spec.planner, f"{redo.spec.description}\n\nTask #{redo.id} redoes it."))
        return True

    async def _bisect_spell(self, spell: RedSpell) -> None:
        window, known = _window(self._rt.merges, spell.last_green, spell.red_sha)
        spell.window = window
        lo, hi, probes = -1, len(window) - 1, 0
        if not known and window and window[0].old_tip:  # no green tip in sight: is the start green?
            probes += 1
            if not (await run_check(self._rt, window[0].old_tip, "bisect")).passed:
                hi = -1  # red before any merge of this run: no culprit among them
        while hi - lo > 1:
            mid = (lo + hi) // 2
            probe = await run_check(self._rt, window[mid].sha, "bisect")
            probes += 1
            lo, hi = (mid, hi) if probe.passed else (lo, mid)
        spell.culprit = window[hi] if hi >= 0 else None
        data = {
            "sha": None if spell.culprit is None else spell.culprit.sha,
            "red_sha": spell.red_sha,
            "merges": len(window),
            "probes": probes,
        }
        found = spell.culprit or Merge("", None, None, None)
        self._rt.record(Event("CulpritFound", data, found.task_id, found.agent))

    def _write_fix(self, spell: RedSpell) -> None:
        board, culprit = self._rt.board, spell.culprit
        task = board.get(culprit.task_id) if culprit is not None and culprit.task_id is not None else None
        tasks = board.tasks()
        top = max((t.spec.priority for t in tasks), default=0) + 1
        spec = fix_spec(self._rt, spell, task, top)
        same = [t for t in tasks if t.title == spec.title and not t.is_final]
        if same:  # written before a restart and not done yet: that one is the fix
            spell.fixes.append(same[0].id)
            return
        fix = board.add_task(spec)
        spell.fixes.append(fix.id)
        data = {"culprit": None if culprit is None else culprit.sha, "owner": spec.planner, "priority": top}
        self._rt.record(Event("FixWritten", data, fix.id, spec.planner))
        note = f"Task #{fix.id} ({spec.title}) is on the board at top priority; do not write it again."
        self._rt.wake_requests.append((spec.planner, f"{spec.description}\n\n{note}"))


def redo_spec(rt: Runtime, spell: RedSpell, task: Task, priority: int) -> TaskSpec:
    """The reverted task again, with why its first version was taken back."""
    why = (
        f"Your first version of this task was merged and then reverted: with it, `{rt.config.check}` "
        f"failed on `{rt.config.branch}` ({spell.failing.sha[:12]}). Do it again so that the check passes "
        f"with everything else that landed.\n\nFailing output (tail):\n"
        f"{spell.failing.output_tail[-_OUTPUT_CHARS:]}"
    )
    return replace(
        task.spec,
        title=f"Redo #{task.id}: {task.title}",
        description=f"{task.spec.description}\n\n{why}",
        priority=priority,
        cycle=int(rt.board.get_meta("cycle") or task.spec.cycle),
    )


def _window(merges: Iterable[Event], last_green: str | None, red_sha: str) -> tuple[list[Merge], bool]:
    """The merges after the last green tip up to the red one, oldest first; and whether the last green
    tip is among the merges seen (else the window starts at the oldest merge this process saw)."""
    seen = [
        Merge(str(e.data.get("sha")), e.data.get("old_tip"), e.task_id, e.agent)
        for e in merges
        if e.data.get("sha")
    ]
    shas = [m.sha for m in seen]
    end = len(seen) - shas[::-1].index(red_sha) if red_sha in shas else len(seen)
    before = shas[:end]
    if last_green is not None and last_green in before:
        return seen[end - before[::-1].index(last_green) : end], True
    known = last_green is not None and bool(seen) and seen[0].old_tip == last_green
    return seen[:end], known


def fix_spec(rt: Runtime, spell: RedSpell, task: Task | None, priority: int) -> TaskSpec:
    """The fix task: what broke, since which merge, the failing output; owned by the culprit's planner."""
    branch, check = rt.config.branch, rt.config.check
    culprit = spell.culprit
    if task is not None and culprit is not None:
        title = f"Fix `{check}` on `{branch}`: it fails since #{task.id} {task.title} merged"
        since = (
            f"The check passed before commit {culprit.sha[:12]} (the merge of task #{task.id}: {task.title})"
        )
    else:
        title = f"Fix `{check}` on `{branch}`: it fails on the shared branch"
        since = "It failed before any merge of this run could be blamed"
    others = [f"#{m.task_id}" for m in spell.window if m.task_id is not None and m is not culprit]
    together = (
        f" and fails after it; merges around it: {', '.join(others)}." if others else " and fails after it."
    )
    description = (
        f"The shared branch is red: `{check}` fails on {spell.failing.sha[:12]}. {since}{together}\n"
        "Make the check pass again, keeping the intent of every merged change (they may conflict in "
        "meaning, not in text). Do not delete or weaken tests.\n\n"
        f"Failing output (tail):\n{spell.failing.output_tail[-_OUTPUT_CHARS:]}"
    )
    owner = task.spec.planner if task is not None else _ROOT
    extra: dict[str, Any] = {}
    if task is not None:
        extra = {"parent_id": task.spec.parent_id, "depth": task.spec.depth}
    cycle = int(rt.board.get_meta("cycle") or 1)
    acceptance = f"`{check}` passes on `{branch}` with this change merged."
    return TaskSpec(title, description, acceptance, (), priority, planner=owner, cycle=cycle, **extra)
