"""Who is doing what: each agent's role, current task, state and time on it, folded from the event log."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from shipyard.domain import Event

IDLE = "idle"
ROLE_ORDER = ("planner", "subplanner", "worker", "judge")
_ENDS_TASK = ("TaskCompleted", "TaskReleased", "TaskFailed", "TaskCancelled", "LeaseExpired")
_FINISH_TOOLS = {"finish": "finishing", "verdict": "deciding"}
_BUSY_BY_ROLE = {"planner": "planning", "subplanner": "planning", "judge": "judging", "worker": "working"}


def role_of(name: str) -> str:
    """The role an agent's name implies: `planner`, `subplanner-7`, `judge`, else a worker slot."""
    if name == "planner":
        return "planner"
    if name.startswith("subplanner-"):
        return "subplanner"
    if name.startswith("judge"):
        return "judge"
    return "worker"


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@dataclass
class AgentState:
    """One agent as the dashboard shows it."""

    name: str
    role: str
    state: str = IDLE
    task_id: int | None = None
    since: float = 0.0
    last_seen: float = 0.0
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    last_action: str = ""
    node: str = ""  # the cluster node it last worked on ("" when it runs on this machine)

    def view(self, now: float, stall_s: float) -> dict[str, Any]:
        quiet = now - self.last_seen
        busy = self.state != IDLE
        return {
            **asdict(self),
            "cost_usd": round(self.cost_usd, 6),
            "on_it_s": round(now - self.since, 1) if busy else None,
            "quiet_s": round(quiet, 1),
            "stalled": busy and quiet > stall_s,
        }


class AgentTracker:
    """Folds events into agent states; feed every event once, in order."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentState] = {}
        self._plan_tasks: set[int] = set()
        self._holder: dict[int, str] = {}
        self._handlers: dict[str, Callable[[Event], None]] = {
            "TaskCreated": self._created,
            "TaskClaimed": self._claimed,
            "CycleStarted": self._cycle,
            "PlannerWoken": self._woken,
            "AgentStarted": self._started,
            "ModelCalled": self._model,
            "ToolCalled": self._tool,
            "MergeConflicted": lambda e: self._note(e, "resolving a conflict", "merge conflict"),
            "CommitMerged": lambda e: self._note(e, None, f"merged {str(e.data.get('sha', ''))[:10]}"),
            "AgentCrashed": lambda e: self._note(e, None, f"crashed: {e.data.get('error', '')}"[:200]),
            "AgentStalled": lambda e: self._note(e, None, str(e.data.get("reason", "stalled"))),
            "PlannerFinished": lambda e: self._idle(e.agent, e.ts, "finished planning"),
            "VerdictGiven": lambda e: self._idle(
                e.agent or "judge", e.ts, f"verdict: {e.data.get('decision')}"
            ),
            "WorkerPlaced": self._placed,
            "RunStarted": self._all_idle,
            "RunResumed": self._all_idle,
            "RunFinished": self._all_idle,
        }
        for kind in _ENDS_TASK:
            self._handlers[kind] = self._task_ended

    def apply(self, event: Event) -> None:
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def views(self, now: float, stall_s: float) -> list[dict[str, Any]]:
        """Every agent seen so far, by role then name."""
        ordered = sorted(
            self._agents.values(),
            key=lambda a: (ROLE_ORDER.index(a.role) if a.role in ROLE_ORDER else 9, _natural(a.name)),
        )
        return [a.view(now, stall_s) for a in ordered]

    def _agent(self, name: str, role: str | None = None) -> AgentState:
        agent = self._agents.get(name)
        if agent is None:
            agent = self._agents[name] = AgentState(name, role or role_of(name))
        return agent

    def _busy(self, name: str, state: str, task_id: int | None, ts: float) -> AgentState:
        agent = self._agent(name)
        if agent.state == IDLE or agent.task_id != task_id:
            agent.since = ts
        agent.state, agent.task_id, agent.last_seen = state, task_id, ts
        if task_id is not None:
            self._holder[task_id] = name
        return agent

    def _idle(self, name: str | None, ts: float, action: str) -> None:
        if name is None:
            return
        agent = self._agent(name)
        if agent.task_id is not None and self._holder.get(agent.task_id) == name:
            del self._holder[agent.task_id]
        agent.state, agent.task_id, agent.since, agent.last_seen = IDLE, None, ts, ts
        agent.last_action = action

    def _placed(self, e: Event) -> None:
        if e.agent is not None:
            self._agent(e.agent).node = str(e.data.get("node", ""))

    def _created(self, e: Event) -> None:
        if e.data.get("kind") == "plan" and e.task_id is not None:
            self._plan_tasks.add(e.task_id)

    def _cycle(self, e: Event) -> None:
        self._busy("planner", "planning", None, e.ts).last_action = f"cycle {e.data.get('cycle')}"

    def _woken(self, e: Event) -> None:
        name = e.agent or "planner"
        scope = name.removeprefix("subplanner-")
        self._busy(name, "planning", int(scope) if scope.isdigit() else None, e.ts).last_action = "woken"

    def _claimed(self, e: Event) -> None:
        if e.task_id in self._plan_tasks:
            self._busy(
                f"subplanner-{e.task_id}", "planning", e.task_id, e.ts
            ).last_action = "claimed its scope"
        elif e.agent:
            self._busy(e.agent, "working", e.task_id, e.ts).last_action = f"took #{e.task_id}"

    def _started(self, e: Event) -> None:
        role = str(e.data.get("role") or role_of(e.agent or ""))
        agent = self._agent(e.agent or "?", role)
        agent.role = role
        self._busy(agent.name, _BUSY_BY_ROLE.get(role, "working"), e.task_id, e.ts).last_action = "started"

    def _active(self, e: Event) -> AgentState:
        """The agent behind a transcript event, marked busy if it was idle."""
        agent = self._agent(e.agent or "?", str(e.data.get("role") or "") or None)
        if agent.state == IDLE or agent.task_id != e.task_id:
            self._busy(agent.name, _BUSY_BY_ROLE.get(agent.role, "working"), e.task_id, e.ts)
        agent.last_seen = e.ts
        return agent

    def _model(self, e: Event) -> None:
        agent = self._active(e)
        agent.steps = int(e.data.get("step", agent.steps))
        agent.tokens += int(e.data.get("input_tokens", 0)) + int(e.data.get("output_tokens", 0))
        agent.cost_usd += float(e.data.get("cost_usd", 0.0))
        calls = ", ".join(str(c) for c in e.data.get("tool_calls", []))
        agent.last_action = f"model replied: {calls}" if calls else "model replied"

    def _tool(self, e: Event) -> None:
        agent = self._active(e)
        tool = str(e.data.get("tool", ""))
        failed = bool(e.data.get("is_error"))
        agent.last_action = f"{tool}{' (error)' if failed else ''}: {str(e.data.get('args', ''))[:120]}"
        if tool in _FINISH_TOOLS and not failed:
            agent.state = "merging" if agent.role == "worker" else _FINISH_TOOLS[tool]

    def _note(self, e: Event, state: str | None, action: str) -> None:
        if not e.agent:
            return
        agent = self._agent(e.agent)
        agent.last_seen, agent.last_action = e.ts, action
        if state is not None and agent.state != IDLE:
            agent.state = state

    def _task_ended(self, e: Event) -> None:
        name = self._holder.get(e.task_id) if e.task_id is not None else None
        if name is not None:
            self._idle(name, e.ts, f"#{e.task_id}: {e.kind.removeprefix('Task').lower()}")

    def _all_idle(self, e: Event) -> None:
        for agent in self._agents.values():
            if agent.state != IDLE:
                self._idle(agent.name, e.ts, agent.last_action)
