"""The run's budget and stop across nodes. A task leaves with what the run has spent so far (`Spent`),
so a node counts on from there and refuses a call once the budget is reached by its own spending; and
the head tells a busy node when the run as a whole is over budget or stopped (`Relay`), so the node's
gateway refuses the next call even before the head cancels the task."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from shipyard.fleet.runtime import Runtime, Totals


@dataclass(frozen=True)
class Spent:
    """Figures only (no key, no secret): the run's tokens and cost, by role, and its age."""

    tokens: int = 0
    cost_usd: float = 0.0
    by_role_usd: Mapping[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @classmethod
    def of(cls, rt: Runtime) -> Spent:
        t = rt.totals
        return cls(t.tokens, t.cost_usd, dict(t.by_role_usd), time.monotonic() - rt.started_monotonic)

    def carry_into(self, rt: Runtime) -> None:
        """Start a node's runtime where the head's run stands (its budget checks then see the run)."""
        rt.totals = Totals(self.tokens, self.cost_usd, dict(self.by_role_usd))
        rt.started_monotonic = time.monotonic() - self.elapsed_s
