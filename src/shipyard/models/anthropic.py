"""`AnthropicModel`: the Anthropic Messages API with client tools, prompt caching and extended thinking."""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic.types import Message as WireMessage
from anthropic.types import (
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingConfigParam,
    ToolUseBlock,
)

from shipyard.models.anthropic_wire import (
    cached_messages,
    system_blocks,
    tool_params,
    wire_messages,
    wire_usage,
)
from shipyard.models.base import CacheTTL, ModelRequest, ModelResponse, Reasoning, ToolCall
from shipyard.models.failure import Endpoint, connection_error, other_error, status_error, timeout_error
from shipyard.models.pricing import Price, price_usd
from shipyard.models.stream import DEFAULT_IDLE_TIMEOUT_S, StreamIdle, drain

__all__ = ["AnthropicModel", "wire_messages"]
# Stop reasons that mean the reply was cut, not finished.
_CUT = frozenset({"max_tokens", "model_context_window_exceeded"})


class AnthropicModel:
    """A Claude model served through the Messages API."""

    def __init__(
        self,
        model_id: str,
        client: anthropic.AsyncAnthropic,
        price: Price | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self.name = f"anthropic:{model_id}"
        self.model_id = model_id
        self.price = price
        self._client = client
        self.idle_timeout_s = idle_timeout_s
        self._endpoint = Endpoint("anthropic", model_id, api_key_env, str(client.base_url))

    async def aclose(self) -> None:
        """Close the HTTP client (its connection pool)."""
        await self._client.close()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        reply = await self._create(request)
        usage = wire_usage(reply.usage)
        cost = price_usd("anthropic", self.model_id, usage, self.price)
        return ModelResponse(
            text="".join(b.text for b in reply.content if isinstance(b, TextBlock)),
            tool_calls=tuple(_tool_call(b) for b in reply.content if isinstance(b, ToolUseBlock)),
            usage=usage,
            cost_usd=cost or 0.0,
            reasoning=tuple(_reasoning(b) for b in reply.content if _is_thinking(b)),
            cut_off=reply.stop_reason in _CUT,
        )

    async def _create(self, request: ModelRequest) -> WireMessage:
        """The reply, streamed (the SDK requires it for long generations) and assembled."""
        params = request_params(self.model_id, request)
        try:
            async with self._client.messages.stream(**params) as stream:
                await drain(aiter(stream), self.idle_timeout_s)
                return await stream.get_final_message()
        except StreamIdle as exc:
            raise timeout_error(self._endpoint, str(exc)) from exc
        except anthropic.APIStatusError as exc:
            detail = exc.api_message or exc.message
            raise status_error(self._endpoint, exc.status_code, detail, exc.response.headers) from exc
        except anthropic.APITimeoutError as exc:
            raise timeout_error(self._endpoint) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error(self._endpoint) from exc
        except anthropic.AnthropicError as exc:
            raise other_error(self._endpoint, exc) from exc


def request_params(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The keyword arguments of `messages.create` for `request` (shared by the streaming call)."""
    ttl = request.cache_ttl
    prefix_ttl = prefix_cache_ttl(request)
    system = system_blocks(request.messages, prefix_ttl)
    tools = tool_params(request.tools, prefix_ttl, mark_last=not system)
    params: dict[str, Any] = {
        "model": model_id,
        "max_tokens": request.max_output_tokens,
        "messages": cached_messages(request.messages, ttl),
    }
    if system:
        params["system"] = system
    if tools:
        params["tools"] = tools
    if request.thinking_budget_tokens:
        thinking: ThinkingConfigParam = {"type": "enabled", "budget_tokens": request.thinking_budget_tokens}
        params["thinking"] = thinking
    return params


def prefix_cache_ttl(request: ModelRequest) -> CacheTTL:
    """The TTL of the tools + system breakpoint: never shorter than the conversation's (the API refuses
    a longer TTL after a shorter one), off when caching is off."""
    ttl, prefix = request.cache_ttl, request.prefix_cache_ttl or request.cache_ttl
    if ttl == "off" or prefix == "off":
        return "off"
    return "1h" if "1h" in (ttl, prefix) else "5m"


def _is_thinking(block: object) -> bool:
    return isinstance(block, ThinkingBlock | RedactedThinkingBlock)


def _reasoning(block: Any) -> Reasoning:
    return Reasoning("anthropic", block.to_dict())


def _tool_call(block: ToolUseBlock) -> ToolCall:
    arguments: object = block.input
    if not isinstance(arguments, dict):  # only a misbehaving compatible server sends this
        error = f"arguments must be a JSON object, got {type(arguments).__name__}: {str(arguments)[:200]}"
        return ToolCall(block.id, block.name, {}, parse_error=error)
    return ToolCall(block.id, block.name, dict(arguments))
