"""The model gateway: CLI agents reach their providers only through it, with per-agent tokens; the real
keys, metering, budgets and the shared backoff stay in Shipyard."""

from shipyard.gateway.backoff import Backoff
from shipyard.gateway.proxy import Call, Grant, Upstream
from shipyard.gateway.server import Gateway, GatewaySettings
from shipyard.gateway.usage import Meter, Tally, api_of

__all__ = ["Backoff", "Call", "Gateway", "GatewaySettings", "Grant", "Meter", "Tally", "Upstream", "api_of"]
