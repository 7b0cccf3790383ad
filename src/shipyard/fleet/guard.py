"""Keeps one agent's failure from taking the fleet down: a crash or a cancel gives its task back."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Coroutine
from typing import Any

from shipyard.domain import Event, Task, TaskStatus
from shipyard.errors import BoardError
from shipyard.fleet.runtime import Runtime


def give_back(rt: Runtime, task: Task, agent: str, reason: str) -> None:
    """Return a claimed task to the board (attempt counted) if `agent` still holds it."""
    try:
        current = rt.board.get(task.id)
        if current.status is TaskStatus.CLAIMED and current.lease_holder == agent:
            rt.board.release(task.id, agent, reason, rt.config.fleet.max_attempts)
    except BoardError:
        pass  # someone else settled it first; nothing to undo


async def guarded(rt: Runtime, coro: Coroutine[Any, Any, None], agent: str | None, task: Task | None) -> None:
    """Run an agent's coroutine; on a crash log `AgentCrashed`; on a crash or cancel give the task back."""
    try:
        await coro
    except asyncio.CancelledError:
        if task is not None and agent is not None:
            reason = rt.cancel_reasons.pop(task.id, "") or f"stopped: {rt.stop.reason or 'cancelled'}"
            give_back(rt, task, agent, reason)
        raise
    except Exception as exc:  # one agent's bug or fault must not stop the fleet
        detail = "".join(traceback.format_exception_only(exc)).strip()
        data = {"error": detail, "traceback": traceback.format_exc()[-3000:]}
        rt.record(Event("AgentCrashed", data, task.id if task else None, agent))
        if task is not None and agent is not None:
            give_back(rt, task, agent, f"agent crashed: {detail[:300]}")
