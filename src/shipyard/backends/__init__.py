"""Agent backends that drive external coding-agent CLIs (Claude Code, Codex) for any role.

This package is an edge: besides `git/` and the agent's shell tool, it is the only place that starts
processes, namely the CLIs themselves (`process.py` supervises them). Each CLI gets its own worktree,
a private temporary home and only its one API key; Shipyard verifies afterwards that nothing outside
the worktree changed (`isolation.py`), turns the CLI's final structured answer into role-tool calls
(`bridge.py`), and keeps claiming, committing, merging, limits, cost and the event log to itself.
"""

from shipyard.backends.catalog import KINDS, check_backends, covered_roles
from shipyard.backends.cli import CliBackend
from shipyard.backends.isolation import IsolationGuard
from shipyard.backends.picker import BackendPicker

__all__ = ["KINDS", "BackendPicker", "CliBackend", "IsolationGuard", "check_backends", "covered_roles"]
