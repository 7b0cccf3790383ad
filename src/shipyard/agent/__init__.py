"""The built-in tool-calling agent: the loop, its limits, its tools and the role prompts."""

from shipyard.agent.loop import (
    AgentLimits,
    AgentOutcome,
    AgentRun,
    Observer,
    StopReason,
    run_agent,
)
from shipyard.agent.prompts import render_prompt
from shipyard.agent.roles import TaskSink, role_tools, workspace_tools
from shipyard.agent.tool import Tool, ToolResult

__all__ = [
    "AgentLimits",
    "AgentOutcome",
    "AgentRun",
    "Observer",
    "StopReason",
    "TaskSink",
    "Tool",
    "ToolResult",
    "render_prompt",
    "role_tools",
    "run_agent",
    "workspace_tools",
]
