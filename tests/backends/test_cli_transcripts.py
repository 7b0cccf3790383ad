"""Reading the CLIs' JSON events (shapes as Claude Code 2.1 and Codex 0.171 print them) into transcripts."""

from __future__ import annotations

from typing import Any

from shipyard.agent import AgentLimits, AgentRun, StopReason, ToolResult, role_tools
from shipyard.backends.claude import ClaudeTranscript
from shipyard.backends.codex import CodexTranscript
from shipyard.domain import Role
from shipyard.models.base import ModelResponse, Usage

RUN = AgentRun(
    Role.WORKER, "worker-1", "s", "p", role_tools(Role.WORKER, None, False), AgentLimits(max_steps=7)
)


class Log:
    """An observer that keeps what it hears, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []

    def model_called(self, run: AgentRun, step: int, response: ModelResponse) -> None:
        self.items.append(("model", step, response.text, [c.name for c in response.tool_calls]))

    def tool_called(
        self, run: AgentRun, step: int, name: str, args: dict[str, Any], result: ToolResult
    ) -> None:
        self.items.append(("tool", step, name, args, result.text, result.is_error))


def _assistant(msg_id: str, block: dict[str, Any], tokens: int) -> dict[str, Any]:
    usage = {"input_tokens": tokens, "output_tokens": 1, "cache_read_input_tokens": 0}
    return {"type": "assistant", "message": {"id": msg_id, "content": [block], "usage": usage}}


CLAUDE_RUN = [
    {"type": "system", "subtype": "init", "tools": ["Bash"]},
    _assistant("msg_1", {"type": "text", "text": "Writing it."}, 100),
    _assistant("msg_1", {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}, 100),
    {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a.py"}]},
    },
    _assistant(
        "msg_2", {"type": "tool_use", "id": "t2", "name": "StructuredOutput", "input": {"summary": "x"}}, 120
    ),
    {
        "type": "user",
        "message": {
            "content": [
                {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "ok"}]}
            ]
        },
    },
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 3,
        "total_cost_usd": 0.25,
        "usage": {"input_tokens": 20, "cache_read_input_tokens": 200, "output_tokens": 14},
        "structured_output": {"summary": "x", "concerns": "", "deviations": ""},
    },
]


def test_claude_code_events_become_a_transcript_and_a_report() -> None:
    log = Log()
    transcript = ClaudeTranscript(RUN, log)
    for event in CLAUDE_RUN:
        transcript.feed(event)
    assert log.items == [
        ("model", 1, "Writing it.", []),
        ("model", 1, "", ["Bash"]),  # one API reply, printed in two parts
        ("tool", 1, "Bash", {"command": "ls"}, "a.py", False),
        ("model", 2, "", ["StructuredOutput"]),
        ("tool", 2, "StructuredOutput", {"summary": "x"}, "ok", False),
    ]
    report = transcript.report
    assert report.final == {"summary": "x", "concerns": "", "deviations": ""}
    assert report.usage == Usage(220, 14, cache_read_tokens=200)
    assert report.cost_usd == 0.25 and report.steps == 3
    assert report.error is None and report.stop is None


def test_claude_code_limits_and_errors_are_reported() -> None:
    turns = ClaudeTranscript(RUN, None)
    turns.feed({"type": "result", "subtype": "error_max_turns", "is_error": True, "usage": {}})
    assert turns.report.stop is StopReason.MAX_STEPS and "--max-turns 7" in (turns.report.error or "")
    api = ClaudeTranscript(RUN, None)
    api.feed({"type": "result", "subtype": "success", "is_error": True, "result": "API Error: 500 nope"})
    assert api.report.final is None and api.report.error == "API Error: 500 nope"


def test_claude_code_running_tokens_count_each_reply_once() -> None:
    transcript = ClaudeTranscript(RUN, None)
    for event in CLAUDE_RUN[1:5]:
        transcript.feed(event)
    assert transcript.report.running_tokens == 101 + 121


CODEX_RUN = [
    {"type": "thread.started", "thread_id": "t"},
    {"type": "item.completed", "item": {"id": "i0", "type": "error", "message": "Model metadata not found"}},
    {"type": "turn.started"},
    {
        "type": "item.started",
        "item": {"id": "i1", "type": "command_execution", "command": "ls", "status": "in_progress"},
    },
    {
        "type": "item.completed",
        "item": {
            "id": "i1",
            "type": "command_execution",
            "command": "ls",
            "aggregated_output": "a.py\n",
            "exit_code": 2,
        },
    },
    {
        "type": "item.completed",
        "item": {"id": "i2", "type": "file_change", "changes": [{"path": "a.py"}], "status": "completed"},
    },
    {"type": "item.completed", "item": {"id": "i3", "type": "reasoning", "text": "hmm"}},
    {"type": "item.completed", "item": {"id": "i4", "type": "agent_message", "text": "thinking aloud"}},
    {"type": "item.completed", "item": {"id": "i5", "type": "agent_message", "text": '{"summary": "done"}'}},
    {"type": "turn.completed", "usage": {"input_tokens": 30, "cached_input_tokens": 10, "output_tokens": 9}},
]


def test_codex_events_become_a_transcript_and_a_report() -> None:
    log = Log()
    transcript = CodexTranscript(RUN, log)
    for event in CODEX_RUN:
        transcript.feed(event)
    assert log.items == [
        ("tool", 0, "codex.notice", {}, "Model metadata not found", True),
        ("tool", 0, "shell", {"command": "ls"}, "exit code 2\na.py\n", True),
        ("tool", 0, "file_change", {"changes": [{"path": "a.py"}]}, "completed", False),
        ("model", 1, "thinking aloud", []),
        ("model", 2, '{"summary": "done"}', []),
    ]
    assert transcript.report.final == {"summary": "done"}  # the last message, once the turn completed
    assert transcript.report.usage == Usage(30, 9, cache_read_tokens=10) and transcript.report.steps == 2


def test_a_failed_codex_turn_has_no_answer() -> None:
    transcript = CodexTranscript(RUN, None)
    transcript.feed({"type": "item.completed", "item": {"type": "agent_message", "text": '{"summary": "x"}'}})
    transcript.feed({"type": "turn.failed", "error": {"message": "stream disconnected"}})
    assert transcript.report.final is None and transcript.report.error == "stream disconnected"
