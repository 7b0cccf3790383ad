"""Agents' transcripts as text, for `shipyard logs`: one block per transcript event."""

from __future__ import annotations

import json
import time
from typing import Any

from shipyard.domain import Event

_SHORT = 240


def _clip(text: str, full: bool) -> str:
    text = text.rstrip()
    if full or len(text) <= _SHORT:
        return text
    return text[:_SHORT].rstrip() + f" … [{len(text)} chars]"


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _head(e: Event) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(e.ts))
    task = f" #{e.task_id}" if e.task_id is not None else ""
    return f"{stamp} {e.agent}{task}"


def _call(call: dict[str, Any], full: bool) -> str:
    args = json.dumps(call.get("arguments", {}), ensure_ascii=False)
    return f"  -> {call.get('name')}({_clip(args, full)})"


def format_event(e: Event, full: bool = False) -> str:
    """One transcript event as lines of text; long texts are cut unless `full`."""
    d = e.data
    if e.kind == "AgentStarted":
        lines = [f"{_head(e)} started as {d.get('role')} with tools {', '.join(d.get('tools', []))}"]
        if full:
            lines += ["  system:", _indent(str(d.get("system", ""))), "  prompt:"]
        lines.append(_indent(_clip(str(d.get("prompt", "")), full)))
        return "\n".join(lines)
    if e.kind == "ModelCalled":
        usage = f"{d.get('input_tokens')}+{d.get('output_tokens')} tokens, ${float(d.get('cost_usd', 0)):.4f}"
        lines = [f"{_head(e)} step {d.get('step')} model ({usage})"]
        if d.get("text"):
            lines.append(_indent(_clip(str(d["text"]), full)))
        calls = d.get("calls") or [{"name": n} for n in d.get("tool_calls", [])]
        return "\n".join(lines + [_call(c, full) for c in calls])
    if e.kind == "ToolCalled":
        flag = " ERROR" if d.get("is_error") else ""
        args = f": {d.get('args', '')}" if full else ""  # the model line above already shows them
        lines = [f"{_head(e)} step {d.get('step')} {d.get('tool')}{flag}{args}"]
        return "\n".join([*lines, _indent(_clip(str(d.get("result", "")), full))])
    return f"{_head(e)} {e.kind} {json.dumps(d)[:_SHORT]}"
