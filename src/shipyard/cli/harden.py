"""Wraps the built models for a long run: optional chaos, then retries with a breaker per provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.models.base import Model
from shipyard.models.chaos import ChaosModel
from shipyard.models.resilient import CircuitBreaker, ResilientModel, RetryPolicy


def harden(
    models: Mapping[Role, Model], config: ShipyardConfig, on_fatal: Callable[[str], None]
) -> dict[Role, Model]:
    """Each distinct model wrapped once; models of one provider share one circuit breaker."""
    r = config.retry
    policy = RetryPolicy(r.max_attempts, r.base_s, r.max_s, r.breaker_threshold, r.breaker_cooldown_s)
    breakers: dict[str, CircuitBreaker] = {}
    wrapped: dict[int, Model] = {}
    for model in models.values():
        if id(model) in wrapped:
            continue
        inner: Model = model
        if config.chaos.model_error_rate:
            inner = ChaosModel(inner, config.chaos.model_error_rate, config.chaos.seed)
        provider = model.name.split(":", 1)[0]
        breaker = breakers.setdefault(
            provider, CircuitBreaker(policy.breaker_threshold, policy.breaker_cooldown_s)
        )
        wrapped[id(model)] = ResilientModel(inner, breaker, policy, on_fatal, seed=config.chaos.seed)
    return {role: wrapped[id(model)] for role, model in models.items()}
