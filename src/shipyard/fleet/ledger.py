"""Writes agents' transcripts to the event log, redacted, and keeps the run's token and cost totals.

An agent's transcript is its `AgentStarted` (system prompt, prompt, tools), then for every step its
`ModelCalled` (reply text, tool calls with arguments, usage) and one `ToolCalled` per call (arguments,
result). Secrets are masked before anything is recorded.
"""

from __future__ import annotations

import json
import time
from typing import Any

from shipyard.agent import AgentRun, ToolResult
from shipyard.domain import Event
from shipyard.fleet.runtime import Runtime, Totals
from shipyard.models.base import ModelResponse, usage_fields
from shipyard.redact import Redactor

TRANSCRIPT_KINDS = frozenset({"AgentStarted", "ModelCalled", "ToolCalled"})
_KEEP_CHARS = 50_000  # per text field: tools already cap their output; this only stops pathological sizes


def _clip(text: str) -> str:
    return text if len(text) <= _KEEP_CHARS else text[:_KEEP_CHARS] + f"... [{len(text)} chars]"


def _clean(value: Any, redact: Redactor) -> Any:
    """JSON-ready `value` with every string redacted and clipped."""
    if isinstance(value, str):
        return _clip(redact(value))
    if isinstance(value, dict):
        return {str(k): _clean(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, redact) for v in value]
    return value if value is None or isinstance(value, bool | int | float) else _clip(redact(str(value)))


class LedgerObserver:
    """The agent loop's observer for one agent session: its transcript, with role, task and usage."""

    def __init__(self, rt: Runtime, task_id: int | None, redact: Redactor | None = None) -> None:
        self._rt = rt
        self._totals = rt.totals
        self._task_id = task_id
        self._redact = redact or rt.redact
        self._created = time.time()
        self._started = False

    def _start(self, run: AgentRun) -> None:
        """Record the start of the transcript (once, at the first thing the agent does)."""
        if self._started:
            return
        self._started = True
        data = {
            "role": run.role.value,
            "started_at": self._created,
            "system": _clean(run.system, self._redact),
            "prompt": _clean(run.prompt, self._redact),
            "tools": [t.spec.name for t in run.tools],
        }
        self._rt.record(Event("AgentStarted", data, self._task_id, run.agent))

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self._start(run)
        self._totals.tokens += response.usage.total
        self._totals.cost_usd += response.cost_usd
        role_usd = self._totals.by_role_usd
        role_usd[run.role.value] = role_usd.get(run.role.value, 0.0) + response.cost_usd
        data = {
            "role": run.role.value,
            "step": step,
            **usage_fields(response.usage),
            "cut_off": response.cut_off,
            "cut_replies": response.cut_retries + int(response.cut_off),
            "cost_usd": response.cost_usd,
            "text": _clean(response.text, self._redact),
            "tool_calls": [c.name for c in response.tool_calls],
            "calls": [
                {"id": c.id, "name": c.name, "arguments": _clean(c.arguments, self._redact)}
                for c in response.tool_calls
            ],
        }
        self._rt.record(Event("ModelCalled", data, self._task_id, run.agent))

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        self._start(run)
        data = {
            "role": run.role.value,
            "step": step,
            "tool": name,
            "args": _clip(json.dumps(_clean(args, self._redact))),
            "result": _clean(result.text, self._redact),
            "is_error": result.is_error,
        }
        self._rt.record(Event("ToolCalled", data, self._task_id, run.agent))


def totals_from_events(events: list[Event]) -> Totals:
    """Recompute tokens and cost from the log (status and resume use this)."""
    totals = Totals()
    for event in events:
        if event.kind == "ModelCalled":
            totals.tokens += int(event.data.get("input_tokens", 0)) + int(event.data.get("output_tokens", 0))
            cost = float(event.data.get("cost_usd", 0.0))
            totals.cost_usd += cost
            role = str(event.data.get("role", ""))
            totals.by_role_usd[role] = totals.by_role_usd.get(role, 0.0) + cost
    return totals
