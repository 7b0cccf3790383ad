"""The task transitions both boards share: redact the inputs, then apply a rule through `_apply`.

Each board supplies only `_apply` (how one rule is applied atomically to its storage) and `_redact`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from shipyard.board import rules
from shipyard.board.rules import Redact, Transition
from shipyard.domain import Handoff, Task


class Transitions:
    _redact: Redact

    def _apply(self, task_id: int, rule: Callable[[Task], Transition]) -> Task:
        raise NotImplementedError

    def heartbeat(self, task_id: int, agent: str, lease_s: float, now: float | None = None) -> None:
        at = rules.clock(now)
        self._apply(task_id, lambda t: rules.renewed(t, agent, lease_s, at))

    def complete(self, task_id: int, agent: str, commits: Sequence[str], handoff: Handoff) -> Task:
        at, said = time.time(), rules.redact_handoff(handoff, self._redact) or handoff
        return self._apply(task_id, lambda t: rules.completed(t, agent, commits, said, at))

    def release(
        self, task_id: int, agent: str, reason: str, max_attempts: int, handoff: Handoff | None = None
    ) -> Task:
        at, why, said = time.time(), self._redact(reason), rules.redact_handoff(handoff, self._redact)
        return self._apply(task_id, lambda t: rules.released(t, agent, why, max_attempts, said, at))

    def fail(self, task_id: int, reason: str, handoff: Handoff | None = None) -> Task:
        at, why, said = time.time(), self._redact(reason), rules.redact_handoff(handoff, self._redact)
        return self._apply(task_id, lambda t: rules.failed(t, why, said, at))

    def cancel(self, task_id: int, reason: str) -> Task:
        at, why = time.time(), self._redact(reason)
        return self._apply(task_id, lambda t: rules.cancelled(t, why, at))

    def set_priority(self, task_id: int, priority: int) -> Task:
        at = time.time()
        return self._apply(task_id, lambda t: rules.reprioritised(t, priority, at))
