"""Models behind one protocol: OpenAI (and compatible servers), Anthropic, scripted."""

from shipyard.models.base import (
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = ["Message", "Model", "ModelRequest", "ModelResponse", "ToolCall", "ToolSpec", "Usage"]
