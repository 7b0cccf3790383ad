"""Writes agents' model and tool calls to the event log, and keeps the run's token and cost totals."""

from __future__ import annotations

import json
from typing import Any

from shipyard.agent import AgentRun, ToolResult
from shipyard.domain import Event
from shipyard.fleet.runtime import Runtime, Totals
from shipyard.models.base import ModelResponse

_KEEP_CHARS = 2000


def _clip(text: str) -> str:
    return text if len(text) <= _KEEP_CHARS else text[:_KEEP_CHARS] + f"... [{len(text)} chars]"


class LedgerObserver:
    """The agent loop's observer for one agent: events with role, task and usage."""

    def __init__(self, rt: Runtime, task_id: int | None) -> None:
        self._rt = rt
        self._totals = rt.totals
        self._task_id = task_id

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self._totals.tokens += response.usage.total
        self._totals.cost_usd += response.cost_usd
        data = {
            "role": run.role.value,
            "step": step,
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
            "cost_usd": response.cost_usd,
            "text": _clip(response.text),
            "tool_calls": [c.name for c in response.tool_calls],
        }
        self._rt.record(Event("ModelCalled", data, self._task_id, run.agent))

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        data = {
            "role": run.role.value,
            "step": step,
            "tool": name,
            "args": _clip(json.dumps(args, default=str)),
            "result": _clip(result.text),
            "is_error": result.is_error,
        }
        self._rt.record(Event("ToolCalled", data, self._task_id, run.agent))


def totals_from_events(events: list[Event]) -> Totals:
    """Recompute tokens and cost from the log (status and resume use this)."""
    totals = Totals()
    for event in events:
        if event.kind == "ModelCalled":
            totals.tokens += int(event.data.get("input_tokens", 0)) + int(event.data.get("output_tokens", 0))
            totals.cost_usd += float(event.data.get("cost_usd", 0.0))
    return totals
