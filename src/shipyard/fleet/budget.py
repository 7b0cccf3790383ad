"""Run budgets: USD, tokens and wall time. Reaching one stops the run gracefully."""

from __future__ import annotations

import time

from shipyard.domain import Role
from shipyard.errors import ModelError
from shipyard.fleet.runtime import Runtime
from shipyard.models.base import Model, ModelRequest, ModelResponse


def over_budget(rt: Runtime) -> str:
    """The reason the run is over budget, or an empty string."""
    b, t = rt.config.budget, rt.totals
    if b.usd and t.cost_usd >= b.usd:
        return f"budget reached: ${t.cost_usd:.4f} of ${b.usd:.2f}"
    if b.tokens and t.tokens >= b.tokens:
        return f"budget reached: {t.tokens} of {b.tokens} tokens"
    if b.wall_time_s and time.monotonic() - rt.started_monotonic >= b.wall_time_s:
        return f"budget reached: wall time {b.wall_time_s:.0f}s"
    for role, cap in b.role_usd.items():
        spent = t.by_role_usd.get(role, 0.0)
        if cap and spent >= cap:
            return f"budget reached: role {role} spent ${spent:.4f} of ${cap:.2f}"
    return ""


class BudgetedModel:
    """Checks the run's budgets before every model call; over budget, the run stops gracefully."""

    def __init__(self, inner: Model, rt: Runtime, role: Role) -> None:
        self.inner = inner
        self.name = inner.name
        self._rt = rt
        self._role = role

    async def complete(self, request: ModelRequest) -> ModelResponse:
        reason = over_budget(self._rt) or (self._rt.stop.reason if self._rt.stop.is_set else "")
        if reason:
            self._rt.stop.set(reason)
            raise ModelError(f"not calling the model: {reason}", retryable=False)
        return await self.inner.complete(request)
