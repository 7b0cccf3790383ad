"""`SimModel`: every role played by programmed turns, no LLM, so fleets of thousands fit on one machine.

The workload is a pure function of its settings and seed. Task `i` writes its own file
`FOLDER/aNNN/tNNNNN.txt`; a share of tasks also append one line to one of a few shared "hot" files.
Planners list the task folders and write a task for every file still missing, handing ranges to
sub-planners when there are more than one planner may write; workers think for a simulated time, make
real changes through the file tools and finish (a merge conflict is resolved by keeping both sides); the
judge stops when every task's file is on the shared branch. Replies carry simulated tokens and cost.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.domain import Role
from shipyard.models.base import ModelRequest, ModelResponse, ToolCall, Usage
from shipyard.models.scripted import call

FRESH_MARKS = ("(none: fresh start)", "(none yet)")
RESOLVE_SHARE = 0.25  # resolving a conflict takes this share of the task's think time
MAX_READ_LINES = 2000
_GOLDEN = (5**0.5 - 1) / 2
_RANGE = re.compile(r"sim-range (\d+):(\d+)")
_TASK = re.compile(r"sim task (\d+)\b")
_CODE_HANDOFF = re.compile(r"\] sim task \d+")  # a code task in the handoffs; the board shows "(code)"
_MORE = re.compile(r"\[more: call read_file with offset=(\d+)\]")
_MARKERS = ("<<<<<<<", "=======", ">>>>>>>")

Reply = tuple[float, list[ToolCall]]


@dataclass(frozen=True)
class SimWorkload:
    """What the simulated fleet does: task count, files, hot-file share and think times, all seeded."""

    tasks: int = 24
    think_ms: float = 200.0
    think_jitter: float = 0.5
    hot_share: float = 0.1
    hot_files: int = 2
    seed: int = 0
    folder: str = "sim"
    area_size: int = 25
    per_planner: int = 30
    usd_per_mtok: float = 1.0

    def _rng(self, i: int, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{salt}:{i}")

    def own_path(self, i: int) -> str:
        return f"{self.area_dir(i // self.area_size)}/{self.own_name(i)}"

    def own_name(self, i: int) -> str:
        return f"t{i:05d}.txt"

    def area_dir(self, area: int) -> str:
        return f"{self.folder}/a{area:03d}"

    def areas(self, lo: int, hi: int) -> range:
        """The folders that hold tasks `lo` to `hi - 1`."""
        return range(lo // self.area_size, (hi - 1) // self.area_size + 1) if hi > lo else range(0)

    def hot_path(self, i: int) -> str | None:
        """The shared file task `i` also appends to, or None (a `hot_share` of tasks have one)."""
        rng = self._rng(i, "hot")
        if rng.random() >= self.hot_share:
            return None
        return f"{self.folder}/hot-{rng.randrange(self.hot_files)}.txt"

    def scope(self, i: int) -> list[str]:
        hot = self.hot_path(i)
        return [self.own_path(i)] if hot is None else [self.own_path(i), hot]

    def think_s(self, i: int) -> float:
        """Task `i`'s simulated think time, spread evenly over think_ms x (1 +/- think_jitter).

        The spread follows a golden-ratio sequence from a seeded start rather than independent draws,
        so that any run of consecutive tasks, however short, has the intended mean.
        """
        u = (random.Random(f"{self.seed}:think").random() + i * _GOLDEN) % 1.0
        return max(0.0, self.think_ms * (1 + self.think_jitter * (2 * u - 1)) / 1000)

    def line(self, i: int) -> str:
        return f"task {i}: landed"

    def task_args(self, i: int) -> dict[str, Any]:
        """The `create_task` arguments for task `i`."""
        hot = self.hot_path(i)
        extra = f" and append the line `{self.line(i)}` to {hot}" if hot else ""
        return {
            "title": f"sim task {i}",
            "description": f"Write {self.own_path(i)}{extra}.",
            "acceptance": f"{self.own_path(i)} is on the shared branch",
            "scope": self.scope(i),
        }

    def delegate_args(self, lo: int, hi: int) -> dict[str, Any]:
        """The `delegate` arguments that hand tasks `lo` to `hi - 1` to a sub-planner."""
        return {
            "title": f"sim tasks {lo}-{hi - 1}",
            "description": f"Plan the simulated tasks in sim-range {lo}:{hi}.",
            "scope": [self.area_dir(a) for a in self.areas(lo, hi)],
        }


def default_goal(workload: SimWorkload) -> str:
    """The goal of a simulated run when the person gives none."""
    return (
        f"Simulated run (the `sim` model, no LLM): land {workload.tasks} programmed tasks under "
        f"`{workload.folder}/` on the shared branch."
    )


class SimModel:
    """The `Model` for every role of a simulated fleet; stateless, so one object serves all agents."""

    def __init__(self, workload: SimWorkload, name: str = "sim") -> None:
        self.name = name
        self.workload = workload

    async def complete(self, request: ModelRequest) -> ModelResponse:
        pause, calls = self._reply(request)
        if pause > 0:
            await asyncio.sleep(pause)
        return self._response(request, calls)

    def _reply(self, req: ModelRequest) -> Reply:
        if req.role is Role.WORKER:
            return _Worker(self.workload, req).reply()
        if req.role is Role.JUDGE:
            return 0.0, _judge(self.workload, req)
        return 0.0, _Planner(self.workload, req).reply()

    def _response(self, req: ModelRequest, calls: list[ToolCall]) -> ModelResponse:
        chars_in = sum(len(m.content) for m in req.messages) + 400 * len(req.tools)
        chars_out = sum(len(json.dumps(c.arguments)) for c in calls)
        usage = Usage(chars_in // 4 + 1, chars_out // 4 + 1)
        cost = usage.total * self.workload.usd_per_mtok / 1_000_000
        return ModelResponse(text="", tool_calls=tuple(calls), usage=usage, cost_usd=cost)


def _prompt(req: ModelRequest) -> str:
    return next((m.content for m in req.messages if m.role == "user"), "")


def _steps(req: ModelRequest) -> int:
    return sum(1 for m in req.messages if m.role == "assistant")


def _results(req: ModelRequest) -> dict[str, str]:
    """Tool results so far, by the id of the call they answer."""
    return {m.tool_call_id: m.content for m in req.messages if m.role == "tool" and m.tool_call_id}


def _listings(w: SimWorkload, lo: int, hi: int) -> list[ToolCall]:
    return [call("list_dir", f"ls:{a}", path=w.area_dir(a)) for a in w.areas(lo, hi)]


def _missing(w: SimWorkload, results: dict[str, str], lo: int, hi: int) -> list[int]:
    """Tasks in `lo`..`hi - 1` whose file the listings did not show."""
    present: set[str] = set()
    for area in w.areas(lo, hi):
        text = results.get(f"ls:{area}", "")
        if not text.startswith("error:"):
            present.update(line.strip() for line in text.splitlines()[1:])
    return [i for i in range(lo, hi) if w.own_name(i) not in present]


def _by_area(w: SimWorkload, items: Sequence[int]) -> list[list[int]]:
    """`items` (ascending) in runs that share an area folder."""
    groups: list[list[int]] = []
    for i in items:
        if groups and groups[-1][-1] // w.area_size == i // w.area_size:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _pack(groups: Sequence[list[int]], parts: int) -> list[list[int]]:
    """Whole `groups`, in order, packed into `parts` contiguous chunks of near-equal size."""
    total, done = sum(len(g) for g in groups), 0
    chunks: list[list[int]] = [[] for _ in range(parts)]
    for group in groups:
        chunks[min(parts - 1, done * parts // total)].extend(group)
        done += len(group)
    return [c for c in chunks if c]


class _Planner:
    """Root planner and sub-planners: list their range, then write or delegate what is missing."""

    def __init__(self, w: SimWorkload, req: ModelRequest) -> None:
        self.w, self.req, self.prompt = w, req, _prompt(req)

    def reply(self) -> list[ToolCall]:
        span = self._span()
        if span is None:
            return [self._finish("no `sim-range` in this scope; nothing to plan")]
        fresh = any(mark in self.prompt for mark in FRESH_MARKS)
        if not fresh and not _CODE_HANDOFF.search(self.prompt):
            return [self._finish("the delegated ranges belong to their sub-planners; nothing to add")]
        if _steps(self.req) == 0:
            return _listings(self.w, *span)
        missing = _missing(self.w, _results(self.req), *span)
        calls = self._plan(missing)
        return [*calls, self._finish(f"{len(missing)} sim tasks missing; wrote {len(calls)} tasks")]

    def _span(self) -> tuple[int, int] | None:
        if self.req.role is Role.PLANNER:
            return 0, self.w.tasks
        found = _RANGE.search(self.prompt)
        return None if found is None else (int(found.group(1)), min(int(found.group(2)), self.w.tasks))

    def _plan(self, missing: list[int]) -> list[ToolCall]:
        limit = self.w.per_planner
        can_delegate = any(t.name == "delegate" for t in self.req.tools)
        groups = _by_area(self.w, missing)
        if len(missing) <= limit or not can_delegate or len(groups) < 2:
            return [call("create_task", f"t{i}", **self._task_args(i)) for i in missing[:limit]]
        parts = min(limit, math.ceil(len(missing) / limit), len(groups))
        chunks = _pack(groups, parts)  # whole areas each: delegations never overlap
        return [
            call("delegate", f"d{n}", **self.w.delegate_args(c[0], c[-1] + 1)) for n, c in enumerate(chunks)
        ]

    def _task_args(self, i: int) -> dict[str, Any]:
        """A sub-planner's task names only its own file, inside the area it was handed; the hot file
        it also appends to lies outside, the kind of deviation real workers report."""
        args = self.w.task_args(i)
        return {**args, "scope": [self.w.own_path(i)]} if self.req.role is Role.SUBPLANNER else args

    def _finish(self, summary: str) -> ToolCall:
        return call("finish", "finish", summary=summary)


class _Worker:
    """A worker on `sim task N`: think, write its file, append to its hot file, or resolve a conflict."""

    def __init__(self, w: SimWorkload, req: ModelRequest) -> None:
        self.w, self.req = w, req
        prompt = _prompt(req)
        found = _TASK.search(prompt)
        self.index = None if found is None else int(found.group(1))
        self.resolving = "MERGE CONFLICT" in prompt

    def reply(self) -> Reply:
        i = self.index
        if i is None:
            return 0.0, [call("finish", summary="no sim task named in the task", concerns="task unclear")]
        hot = self.w.hot_path(i)
        shared = self.w.scope(i) if self.resolving else [p for p in (hot,) if p]
        if _steps(self.req) == 0:
            pause = self.w.think_s(i) * (RESOLVE_SHARE if self.resolving else 1.0)
            own = (
                []
                if self.resolving
                else [call("write_file", "own", path=self.w.own_path(i), content=self._own(i))]
            )
            reads = [_read(p, 1) for p in shared]
            return pause, [*own, *reads] if reads else [*own, self._finish(i)]
        pages = {p: _pages(_results(self.req), p) for p in shared}
        more = [_read(p, nxt) for p, (_, nxt) in pages.items() if nxt is not None]
        if more:
            return 0.0, more
        writes = [self._write(p, lines) for p, (lines, _) in pages.items()]
        return 0.0, [*(c for c in writes if c is not None), self._finish(i)]

    def _own(self, i: int) -> str:
        return f"sim task {i}\nseed {self.w.seed}\n"

    def _write(self, path: str, lines: list[str]) -> ToolCall | None:
        if self.resolving:
            kept = [line for line in lines if not line.startswith(_MARKERS)]
            if kept == lines:
                return None
        else:
            kept = [*lines, self.w.line(self.index or 0)]
        return call("write_file", f"write:{path}", path=path, content="".join(f"{x}\n" for x in kept))

    def _finish(self, i: int) -> ToolCall:
        did = "resolved the merge conflict keeping both sides" if self.resolving else "made the change"
        return call("finish", "finish", summary=f"sim task {i}: {did} in {', '.join(self.w.scope(i))}")


def _read(path: str, offset: int) -> ToolCall:
    return call("read_file", f"read:{path}:{offset}", path=path, offset=offset, limit=MAX_READ_LINES)


def _pages(results: dict[str, str], path: str) -> tuple[list[str], int | None]:
    """The lines of `path` read so far, and the offset of the next page (None when it was all read)."""
    lines: list[str] = []
    offset: int | None = 1
    while offset is not None and f"read:{path}:{offset}" in results:
        text = results[f"read:{path}:{offset}"]
        body, offset = _page(text)
        lines += body
    return lines, offset


def _page(text: str) -> tuple[list[str], int | None]:
    """One `read_file` result: its lines (none for a missing or empty file) and where the next page starts."""
    if text.startswith("error:") or " lines " not in text.split("\n", 1)[0]:
        return [], None
    body = [row.split("\t", 1)[1] for row in text.splitlines()[1:] if "\t" in row]
    more = _MORE.search(text)
    return body, None if more is None else int(more.group(1))


def _judge(w: SimWorkload, req: ModelRequest) -> list[ToolCall]:
    """List every task folder on the shared branch's tip; stop when no task's file is missing."""
    if _steps(req) == 0:
        return _listings(w, 0, w.tasks)
    missing = _missing(w, _results(req), 0, w.tasks)
    if not missing:
        notes = f"all {w.tasks} sim tasks are on the shared branch"
        return [call("verdict", "verdict", decision="stop", notes=notes)]
    notes = f"{w.tasks - len(missing)} of {w.tasks} sim tasks landed; missing: {_few(missing)}"
    return [call("verdict", "verdict", decision="continue", notes=notes)]


def _few(items: Iterable[int], shown: int = 10) -> str:
    items = list(items)
    text = ", ".join(str(i) for i in items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")
