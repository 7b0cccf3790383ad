"""A streamed Chat Completions reply assembled into the `ChatCompletion` a plain call would return."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from shipyard.models.stream import drain


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ChunkAssembler:
    """Folds chunks in: text, refusal, tool calls by index, finish reason and the final usage chunk."""

    model: str = ""
    id: str = ""
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        self.id, self.model = chunk.id or self.id, chunk.model or self.model
        if chunk.usage is not None:
            self.usage = chunk.usage.model_dump()
        for choice in chunk.choices[:1]:
            delta = choice.delta
            self.text.append(delta.content or "")
            self.refusal.append(delta.refusal or "")
            for part in delta.tool_calls or ():
                call = self.calls.setdefault(part.index, _Call())
                call.id = part.id or call.id
                if part.function is not None:
                    call.name = part.function.name or call.name
                    call.arguments.append(part.function.arguments or "")
            self.finish_reason = choice.finish_reason or self.finish_reason

    def completion(self) -> ChatCompletion:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text) or None,
            "refusal": "".join(self.refusal) or None,
        }
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": "".join(c.arguments)},
                }
                for _, c in sorted(self.calls.items())
            ]
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}
        payload = {
            "id": self.id,
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage,
        }
        return ChatCompletion.model_validate(payload)


async def assemble(chunks: AsyncIterator[ChatCompletionChunk], idle_s: float) -> ChatCompletion:
    """Read every chunk (each within `idle_s` of the last) and return the whole reply."""
    assembler = ChunkAssembler()

    async def fold() -> AsyncIterator[None]:
        async for chunk in chunks:
            assembler.add(chunk)
            yield None

    await drain(aiter(fold()), idle_s)
    return assembler.completion()
