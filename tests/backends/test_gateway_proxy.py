"""The gateway calls providers the way the person's machine does: through `HTTPS_PROXY`/`HTTP_PROXY`
when set (a company proxy), never for `NO_PROXY` hosts."""

from __future__ import annotations

import httpx2
import pytest
from backend_fakes import RecordingProxy

from shipyard.gateway import Gateway, Upstream


def test_the_gateway_reaches_its_upstream_through_the_configured_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with RecordingProxy() as proxy:
        for name, value in proxy.env().items():
            monkeypatch.setenv(name, value)
        gateway = Gateway([Upstream("a", "anthropic", "http://provider.invalid", "real-key")])
        grant = gateway.grant("worker-1", "a", lambda call: None, lambda: "")
        try:
            reply = httpx2.post(
                f"{grant.base_url}/v1/messages", headers={"x-api-key": grant.token}, json={}, trust_env=False
            )
        finally:
            gateway.revoke(grant)
    assert reply.status_code == 403  # the recording proxy's answer, passed on
    assert proxy.requests == ["POST http://provider.invalid/v1/messages HTTP/1.1"]
