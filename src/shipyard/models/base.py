"""The `Model` protocol and its typed request and response."""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from typing import Any, Literal, Protocol

from shipyard.domain import Role

MessageRole = Literal["system", "user", "assistant", "tool"]
CacheTTL = Literal["5m", "1h", "off"]
CacheRetention = Literal["in_memory", "24h"]
# Today's models write up to 64k (Claude) or 128k (GPT-5) tokens; a 300-line file is about 4k.
DEFAULT_MAX_OUTPUT_TOKENS = 32_000


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Set when the model sent arguments that are not a JSON object; the loop reports it to the agent.
    parse_error: str | None = None


@dataclass(frozen=True)
class Reasoning:
    """A reasoning item of a reply (an Anthropic thinking block, an OpenAI Responses reasoning item),
    kept verbatim and sent back with the next turn of the same provider, as the APIs require."""

    provider: str
    item: dict[str, Any]


@dataclass(frozen=True)
class Message:
    role: MessageRole
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    reasoning: tuple[Reasoning, ...] = ()


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: a name, a one-line description and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more calls, as billed.

    `input_tokens` counts every prompt token (OpenAI's and `genai-prices`' convention); of those,
    `cache_read_tokens` were served from the provider's prompt cache and `cache_write_tokens` were
    written to it (`cache_write_1h_tokens` of them with a one-hour TTL). `reasoning_tokens` are part
    of `output_tokens`.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens billed at the full input price."""
        return max(0, self.input_tokens - self.cache_read_tokens - self.cache_write_tokens)

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def usage_fields(usage: Usage) -> dict[str, int]:
    """`usage` as the fields of a `ModelCalled` event (input tokens include the cached ones)."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


@dataclass(frozen=True)
class ModelRequest:
    """One call. The generation settings are filled per role by `GenerationModel` (shipyard.toml)."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    role: Role = Role.WORKER
    agent: str = "agent"
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    # A stable id of the agent session: OpenAI's `prompt_cache_key`, so its calls reach one cache.
    session: str = ""
    cache_ttl: CacheTTL = "5m"  # Anthropic: the conversation's breakpoints ("off": no caching)
    prefix_cache_ttl: CacheTTL | None = None  # Anthropic: the tools + system breakpoint; None: `cache_ttl`
    cache_retention: CacheRetention | None = None  # OpenAI: `24h` where the model offers it
    reasoning_effort: str | None = None  # OpenAI reasoning models
    thinking_budget_tokens: int = 0  # Anthropic extended thinking; 0 is off


@dataclass(frozen=True)
class ModelResponse:
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    reasoning: tuple[Reasoning, ...] = ()
    # The reply was stopped by the output limit: its tool calls may be cut and must not run.
    cut_off: bool = False
    cut_retries: int = 0  # cut replies retried with a larger limit before this one


class Model(Protocol):
    """Messages and tool schemas in; text or tool calls, token usage and cost out."""

    name: str

    async def complete(self, request: ModelRequest) -> ModelResponse: ...
