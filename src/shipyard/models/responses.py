"""`ResponsesModel`: the OpenAI Responses API (`openai-responses:MODEL`), stateless and streamed.

Nothing is stored on OpenAI's side (`store: false`): each request sends the whole conversation as
items, reasoning items included with their encrypted content (`include:
["reasoning.encrypted_content"]`), so a reasoning model keeps its reasoning from one turn to the next.
A reply stopped by the output limit comes back `incomplete` and is marked cut off.
"""

from __future__ import annotations

import json
from typing import Any, cast

import openai
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseFunctionToolCall,
    ResponseInputItemParam,
    ResponseOutputMessage,
    ResponseReasoningItem,
)

from shipyard.errors import ModelError
from shipyard.models.base import Message, ModelRequest, ModelResponse, Reasoning, ToolCall, ToolSpec, Usage
from shipyard.models.failure import Endpoint, connection_error, other_error, status_error, timeout_error
from shipyard.models.openai import parse_arguments
from shipyard.models.pricing import Price, price_usd
from shipyard.models.stream import DEFAULT_IDLE_TIMEOUT_S, StreamIdle, drain

PROVIDER = "openai-responses"
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesModel:
    """A model served through the Responses API (the codex line, reasoning models)."""

    def __init__(
        self,
        model_id: str,
        client: openai.AsyncOpenAI,
        price: Price | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        price_as: str = "openai",
    ) -> None:
        self.name = f"{PROVIDER}:{model_id}"
        self.model_id = model_id
        self.price_as = price_as  # the price-table provider (a local server is not priced as OpenAI)
        self.price = price
        self.idle_timeout_s = idle_timeout_s
        self._client = client
        self._endpoint = Endpoint(PROVIDER, model_id, api_key_env, str(client.base_url))

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        reply = await self._create(request)
        if reply.status == "failed":
            detail = reply.error.message if reply.error else "no detail"
            raise ModelError(f"{PROVIDER}: model `{self.model_id}` failed: {detail}", retryable=True)
        usage = _usage(reply)
        reason = reply.incomplete_details.reason if reply.incomplete_details else None
        return ModelResponse(
            text="".join(_texts(reply)),
            tool_calls=tuple(_tool_call(i) for i in reply.output if isinstance(i, ResponseFunctionToolCall)),
            usage=usage,
            cost_usd=price_usd(self.price_as, self.model_id, usage, self.price) or 0.0,
            reasoning=tuple(_reasoning(i) for i in reply.output if isinstance(i, ResponseReasoningItem)),
            cut_off=reply.status == "incomplete" and reason == "max_output_tokens",
        )

    async def _create(self, request: ModelRequest) -> Response:
        """The streamed reply, read to its terminal event (completed, incomplete or failed)."""
        final: list[Response] = []

        async def events() -> Any:
            stream = await self._client.responses.create(**request_params(self.model_id, request))
            async for event in stream:
                if event.type in _TERMINAL:
                    final.append(cast(Any, event).response)
                yield event

        try:
            await drain(aiter(events()), self.idle_timeout_s)
        except StreamIdle as exc:
            raise timeout_error(self._endpoint, str(exc)) from exc
        except openai.APIStatusError as exc:
            raise status_error(self._endpoint, exc.status_code, exc.message, exc.response.headers) from exc
        except openai.APITimeoutError as exc:
            raise timeout_error(self._endpoint) from exc
        except openai.APIConnectionError as exc:
            raise connection_error(self._endpoint) from exc
        except openai.OpenAIError as exc:
            raise other_error(self._endpoint, exc) from exc
        if not final:
            raise ModelError(f"{PROVIDER}: the stream for `{self.model_id}` ended early", retryable=True)
        return final[-1]


def request_params(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The keyword arguments of `responses.create` for `request`."""
    params: dict[str, Any] = {
        "model": model_id,
        "input": input_items(request.messages),
        "max_output_tokens": request.max_output_tokens,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "stream": True,
    }
    instructions = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
    if instructions:
        params["instructions"] = instructions
    if request.tools:
        params["tools"] = [_tool(t) for t in request.tools]
    if request.reasoning_effort:
        params["reasoning"] = {"effort": request.reasoning_effort}
    if request.session:
        params["prompt_cache_key"] = request.session
    if request.cache_retention:
        params["prompt_cache_retention"] = request.cache_retention
    return params


def input_items(messages: tuple[Message, ...]) -> list[ResponseInputItemParam]:
    """The conversation as input items; reasoning items go back ahead of the calls they led to."""
    items: list[ResponseInputItemParam] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            if message.tool_call_id is None:
                raise ValueError("a tool message needs the `tool_call_id` of the call it answers")
            items.append(
                {"type": "function_call_output", "call_id": message.tool_call_id, "output": message.content}
            )
        elif message.role == "user":
            items.append({"role": "user", "content": message.content})
        else:
            items += _assistant(message)
    return items


def _assistant(message: Message) -> list[ResponseInputItemParam]:
    items: list[ResponseInputItemParam] = [
        cast(ResponseInputItemParam, dict(r.item)) for r in message.reasoning if r.provider == PROVIDER
    ]
    if message.content:
        items.append({"role": "assistant", "content": message.content})
    for call in message.tool_calls:
        arguments = json.dumps(call.arguments)
        items.append({"type": "function_call", "call_id": call.id, "name": call.name, "arguments": arguments})
    return items


def _tool(spec: ToolSpec) -> FunctionToolParam:
    return {
        "type": "function",
        "name": spec.name,
        "description": spec.description,
        "parameters": spec.parameters,
        "strict": False,
    }


def _texts(reply: Response) -> list[str]:
    return [
        part.text
        for item in reply.output
        if isinstance(item, ResponseOutputMessage)
        for part in item.content
        if part.type == "output_text"
    ]


def _tool_call(item: ResponseFunctionToolCall) -> ToolCall:
    arguments, error = parse_arguments(item.arguments)
    return ToolCall(item.call_id, item.name, arguments, parse_error=error)


def _reasoning(item: ResponseReasoningItem) -> Reasoning:
    """The item as it goes back: id, summary and encrypted content (no status: an output-only field)."""
    keep = {k: v for k, v in item.to_dict().items() if k in ("type", "id", "summary", "encrypted_content")}
    return Reasoning(PROVIDER, keep)


def _usage(reply: Response) -> Usage:
    usage = reply.usage
    if usage is None:
        return Usage()
    return Usage(
        usage.input_tokens,
        usage.output_tokens,
        cache_read_tokens=usage.input_tokens_details.cached_tokens or 0,
        reasoning_tokens=usage.output_tokens_details.reasoning_tokens or 0,
    )
