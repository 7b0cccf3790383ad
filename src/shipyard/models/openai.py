"""`OpenAIModel`: Chat Completions with function tools, for OpenAI and any OpenAI-compatible server."""

from __future__ import annotations

import json
from typing import Any, cast

import openai
from openai import Omit
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_message_tool_call import ChatCompletionMessageToolCallUnion
from openai.types.shared import ReasoningEffort

from shipyard.errors import ModelError
from shipyard.models.base import Message, ModelRequest, ModelResponse, ToolCall, ToolSpec, Usage
from shipyard.models.chatstream import assemble
from shipyard.models.failure import Endpoint, connection_error, other_error, status_error, timeout_error
from shipyard.models.pricing import Price, price_usd
from shipyard.models.stream import DEFAULT_IDLE_TIMEOUT_S, StreamIdle


class OpenAIModel:
    """A model served through the Chat Completions API (OpenAI, OpenRouter, vLLM, Ollama, llama.cpp)."""

    def __init__(
        self,
        model_id: str,
        client: openai.AsyncOpenAI,
        provider: str = "openai",
        price: Price | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self.name = f"{provider}:{model_id}"
        self.model_id = model_id
        self.provider = provider
        self.price = price
        self._client = client
        self.idle_timeout_s = idle_timeout_s
        self._endpoint = Endpoint(provider, model_id, api_key_env, str(client.base_url))

    async def aclose(self) -> None:
        """Close the HTTP client (its connection pool)."""
        await self._client.close()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        completion = await self._create(request)
        if not completion.choices:
            raise ModelError(f"{self.provider}: model `{self.model_id}` sent no choices", retryable=True)
        choice = completion.choices[0]
        message = choice.message
        usage = _usage(completion)
        cost = price_usd(self.provider, self.model_id, usage, self.price)
        return ModelResponse(
            text=message.content or message.refusal or "",
            tool_calls=tuple(_tool_call(c) for c in message.tool_calls or ()),
            usage=usage,
            cost_usd=cost or 0.0,
            cut_off=choice.finish_reason == "length",
        )

    async def _create(self, request: ModelRequest) -> ChatCompletion:
        """The reply, streamed (a long one would outlast a whole-request timeout) and assembled."""
        tools = [_tool(t) for t in request.tools]
        try:
            chunks = await self._client.chat.completions.create(
                model=self.model_id,
                messages=[_message(m) for m in request.messages],
                tools=tools or openai.omit,
                max_completion_tokens=request.max_output_tokens,
                prompt_cache_key=request.session or openai.omit,
                prompt_cache_retention=request.cache_retention or openai.omit,
                reasoning_effort=_effort(request.reasoning_effort),
                stream=True,
                stream_options={"include_usage": True},
            )
            return await assemble(aiter(chunks), self.idle_timeout_s)
        except StreamIdle as exc:
            raise timeout_error(self._endpoint, str(exc)) from exc
        except openai.APIStatusError as exc:
            raise status_error(self._endpoint, exc.status_code, _detail(exc), exc.response.headers) from exc
        except openai.APITimeoutError as exc:
            raise timeout_error(self._endpoint) from exc
        except openai.APIConnectionError as exc:
            raise connection_error(self._endpoint) from exc
        except openai.OpenAIError as exc:
            raise other_error(self._endpoint, exc) from exc


def _effort(effort: str | None) -> ReasoningEffort | Omit:
    return cast(ReasoningEffort, effort) if effort else openai.omit


def _message(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the `tool_call_id` of the call it answers")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if not message.tool_calls:
        return {"role": "assistant", "content": message.content}
    calls = [_wire_call(c) for c in message.tool_calls]
    return {"role": "assistant", "content": message.content or None, "tool_calls": calls}


def _wire_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    arguments = json.dumps(call.arguments)
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


def _tool_call(call: ChatCompletionMessageToolCallUnion) -> ToolCall:
    if call.type != "function":
        return ToolCall(call.id, call.custom.name, {}, parse_error="custom tool calls are not supported")
    arguments, error = parse_arguments(call.function.arguments)
    return ToolCall(call.id, call.function.name, arguments, parse_error=error)


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict, or `{}` and the reason they are not a JSON object."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {}, f"arguments are not valid JSON ({exc}): {raw[:200]}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}: {raw[:200]}"
    return value, None


def _usage(completion: ChatCompletion) -> Usage:
    usage = completion.usage
    if usage is None:  # some compatible servers omit it
        return Usage()
    prompt, output = usage.prompt_tokens_details, usage.completion_tokens_details
    return Usage(
        usage.prompt_tokens,
        usage.completion_tokens,
        cache_read_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        cache_write_tokens=(prompt.cache_write_tokens or 0) if prompt else 0,
        reasoning_tokens=(output.reasoning_tokens or 0) if output else 0,
    )


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return exc.message
