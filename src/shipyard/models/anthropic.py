"""`AnthropicModel`: the Anthropic Messages API with client tools."""

from __future__ import annotations

import anthropic
from anthropic.types import Message as WireMessage
from anthropic.types import (
    MessageParam,
    TextBlock,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
)
from anthropic.types import Usage as WireUsage

from shipyard.models.base import Message, ModelRequest, ModelResponse, ToolCall, ToolSpec, Usage
from shipyard.models.failure import Endpoint, connection_error, other_error, status_error, timeout_error
from shipyard.models.pricing import Price, price_usd

Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam


class AnthropicModel:
    """A Claude model served through the Messages API."""

    def __init__(
        self,
        model_id: str,
        client: anthropic.AsyncAnthropic,
        price: Price | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
    ) -> None:
        self.name = f"anthropic:{model_id}"
        self.model_id = model_id
        self.price = price
        self._client = client
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
        )

    async def _create(self, request: ModelRequest) -> WireMessage:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
        tools = [_tool(t) for t in request.tools]
        try:
            return await self._client.messages.create(
                model=self.model_id,
                max_tokens=request.max_output_tokens,
                system=system or anthropic.omit,
                messages=wire_messages(request.messages),
                tools=tools or anthropic.omit,
            )
        except anthropic.APIStatusError as exc:
            detail = exc.api_message or exc.message
            raise status_error(self._endpoint, exc.status_code, detail, exc.response.headers) from exc
        except anthropic.APITimeoutError as exc:
            raise timeout_error(self._endpoint) from exc
        except anthropic.APIConnectionError as exc:
            raise connection_error(self._endpoint) from exc
        except anthropic.AnthropicError as exc:
            raise other_error(self._endpoint, exc) from exc


def wire_messages(messages: tuple[Message, ...]) -> list[MessageParam]:
    """Our conversation as alternating user/assistant turns of blocks; system messages go elsewhere."""
    turns: list[tuple[str, list[Block]]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue  # the API refuses empty turns
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)  # e.g. consecutive tool results form one user turn
        else:
            turns.append((role, blocks))
    return [_turn(role, blocks) for role, blocks in turns]


def _turn(role: str, blocks: list[Block]) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": blocks}
    return {"role": "user", "content": blocks}


def _blocks(message: Message) -> list[Block]:
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the `tool_call_id` of the call it answers")
        result: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if message.content:
            result["content"] = message.content
        return [result]
    blocks: list[Block] = [{"type": "text", "text": message.content}] if message.content else []
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return blocks


def _tool(spec: ToolSpec) -> ToolParam:
    return {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}


def _tool_call(block: ToolUseBlock) -> ToolCall:
    arguments: object = block.input
    if not isinstance(arguments, dict):  # only a misbehaving compatible server sends this
        error = f"arguments must be a JSON object, got {type(arguments).__name__}: {str(arguments)[:200]}"
        return ToolCall(block.id, block.name, {}, parse_error=error)
    return ToolCall(block.id, block.name, dict(arguments))


def wire_usage(usage: WireUsage) -> Usage:
    """Billed usage: the API counts cache reads and writes apart from `input_tokens`; ours include them."""
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    hour = usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
    return Usage(
        usage.input_tokens + read + write,
        usage.output_tokens,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=hour,
    )
