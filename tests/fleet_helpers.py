"""Helpers for fleet tests (a module of its own: `conftest` names clash across test folders)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shipyard.fleet.run import Fleet, RunResult
from shipyard.fleet.runtime import Runtime

FleetFactory = Callable[..., Runtime]


def run(rt: Runtime) -> RunResult:
    return asyncio.run(Fleet(rt).run())
