"""Which agent runs on which backend: planners, sub-planners and the judge on their role's CLI; worker
slots split by share (e.g. 70% of the slots on Codex, the rest on the built-in loop)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence

from shipyard.agent.backend import AgentBackend
from shipyard.backends.catalog import KINDS
from shipyard.backends.cli import CliBackend
from shipyard.backends.confine import CliSandbox
from shipyard.backends.dialect import CliSettings
from shipyard.backends.isolation import IsolationGuard
from shipyard.backends.metering import RunHooks, upstream_for
from shipyard.config import ShipyardConfig
from shipyard.domain import Role
from shipyard.gateway import Backoff, Gateway, GatewaySettings, Upstream

_SLOT = re.compile(r"-(\d+)$")


def slot_counts(shares: Sequence[float], slots: int) -> list[int]:
    """How many of `slots` worker slots each share gets: largest remainders, never above the total."""
    exact = [share * slots for share in shares]
    counts = [math.floor(x) for x in exact]
    room = min(slots, round(sum(exact))) - sum(counts)
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: max(0, room)]:
        counts[i] += 1
    return counts


class BackendPicker:
    """`Runtime.pick_backend`: an external backend for (role, agent), or None for the built-in loop."""

    def __init__(
        self,
        settings: Mapping[Role, list[CliSettings]],
        workers: int,
        guard: IsolationGuard,
        environ: Mapping[str, str],
        hooks: RunHooks | None = None,
        project: ShipyardConfig | None = None,
    ) -> None:
        """`project`: its `[sandbox]` confines the CLIs and `[gateway]` sets up the gateway (None: the
        CLIs run unconfined through a gateway with default settings)."""
        self.gateway = Gateway(gateway_upstreams(settings), *gateway_settings(project))
        confinement = CliSandbox.of(project.sandbox) if project is not None else None
        self._backends = {
            role: [_backend(s, guard, environ, self.gateway, hooks or RunHooks()) for s in entries]
            for role, entries in settings.items()
        }
        for backend in {id(b): b for entries in self._backends.values() for b in entries}.values():
            backend.sandbox = confinement
        counts = slot_counts([s.share for s in settings.get(Role.WORKER, [])], workers)
        self._worker_slots: dict[int, CliBackend] = {}
        slot = 1
        for backend, count in zip(self._backends.get(Role.WORKER, []), counts, strict=True):
            for _ in range(count):
                self._worker_slots[slot] = backend
                slot += 1

    def __call__(self, role: Role, agent: str) -> AgentBackend | None:
        if role is not Role.WORKER:
            entries = self._backends.get(role)
            return entries[0] if entries else None
        match = _SLOT.search(agent)
        return self._worker_slots.get(int(match.group(1))) if match else None

    def describe(self) -> dict[str, str]:
        """Which backend each role (and each worker slot) uses, for the log."""
        out = {
            role.value: entries[0].name for role, entries in self._backends.items() if role is not Role.WORKER
        }
        out.update({f"worker-{slot}": b.name for slot, b in sorted(self._worker_slots.items())})
        return out


def gateway_settings(project: ShipyardConfig | None) -> tuple[GatewaySettings, Backoff]:
    """The gateway's address, timeouts and backoff from `[gateway]`."""
    if project is None:
        return GatewaySettings(), Backoff()
    g = project.gateway
    return GatewaySettings(g.host, g.connect_timeout_s, g.read_timeout_s), Backoff(
        g.backoff_first_s, g.backoff_max_s
    )


def upstream_name(settings: CliSettings) -> str:
    """A CLI's route on the gateway: one per provider, base URL and key."""
    provider = KINDS[settings.cli].dialect().provider
    digest = hashlib.sha256(f"{settings.base_url}\0{settings.api_key}".encode()).hexdigest()[:8]
    return f"{provider}-{digest}"


def gateway_upstreams(settings: Mapping[Role, list[CliSettings]]) -> list[Upstream]:
    """Every distinct provider endpoint the configured CLIs reach, each with its real key."""
    found: dict[str, Upstream] = {}
    for entries in settings.values():
        for s in entries:
            provider = KINDS[s.cli].dialect().provider
            found.setdefault(upstream_name(s), upstream_for(s, provider, upstream_name(s)))
    return list(found.values())


def _backend(
    settings: CliSettings,
    guard: IsolationGuard,
    environ: Mapping[str, str],
    gateway: Gateway,
    hooks: RunHooks,
) -> CliBackend:
    backend = CliBackend(
        KINDS[settings.cli].dialect(), settings, guard, environ, (gateway, upstream_name(settings))
    )
    backend.hooks = hooks
    return backend
