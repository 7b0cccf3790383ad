"""The commented `shipyard.toml` that `shipyard init` writes."""

from __future__ import annotations

import json

TEMPLATE = """# Shipyard configuration. Every value here can be overridden on the command line
# (--goal, --goal-file, --workers, --model ROLE=PROVIDER:MODEL, --max-cycles).

# What the fleet should achieve. Either inline text, or a file in the repository (goal_file).
goal = {goal}
# goal_file = "GOAL.md"

# The project's own tests or build. Workers run it before they finish; Shipyard runs it on the
# shared branch after merges to track its health. "Done" needs it to pass.
check = {check}

workers = {workers}         # worker agents in parallel, each in its own git worktree
branch = {branch}      # the shared branch all work lands on
max_cycles = 5      # plan -> work -> judge cycles before the run stops
prompts_dir = ".shipyard-prompts"   # put planner.md / worker.md / ... here to override the prompts

# The model for each role: PROVIDER:MODEL with provider openai, anthropic or scripted.
# openai: also serves any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenRouter) via base_url.
[models]
planner = "anthropic:claude-opus-4-5"
subplanner = "anthropic:claude-sonnet-4-6"
worker = "openai:gpt-5.2"
judge = "anthropic:claude-sonnet-4-6"

# Per-agent limits: an agent over one is stopped and its handoff recorded.
[limits]
max_steps = 60
wall_time_s = 1800
max_tokens = 2000000

# Run budgets; 0 means no limit. Reaching one stops the run gracefully.
[budget]
usd = 20.0
tokens = 0
wall_time_s = 0

[fleet]
max_attempts = 3          # tries per task before it fails and returns to its planner
max_conflict_rounds = 3   # times a worker may resolve merge conflicts on one attempt
conflict_hold_s = 600     # a conflict's files wait for its resolution at most this long (0: never)
lease_s = 300             # a claimed task returns to the board if its worker is silent this long
max_depth = 2             # how deep planners may delegate to sub-planners
max_tasks_per_planner = 30
planner_wakes = 3         # times a planner is woken with handoffs per cycle
shell_timeout_s = 300
check_timeout_s = 900

# Agents' shell commands and the check run in a bubblewrap sandbox: read-only system, their worktree
# writable, no network, limits per command. Shipyard refuses to run without bubblewrap unless
# allow_unsandboxed = true.
[sandbox]
network = false          # true when the check command must download dependencies
max_processes = 512
memory_mb = 8192
# extra_ro_paths = ["/opt/toolchain"]

# Retries of failed model calls (rate limits honour Retry-After) and a circuit breaker per provider.
[retry]
max_attempts = 6
base_s = 1.0
max_s = 60.0

# External coding-agent CLIs for a role, or a share of the worker slots (see the README).
# [[backends.worker]]
# cli = "claude"           # or "codex"
# model = "claude-sonnet-4-6"
# share = 0.5

# Provider settings; keys come from the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY).
# [providers.openai]
# base_url = "http://127.0.0.1:8000/v1"   # an OpenAI-compatible server
# api_key_env = "OPENAI_API_KEY"

# Prices for models that genai-prices does not know, in USD per million tokens.
# [prices."openai:my-local-model"]
# input_per_mtok = 0.0
# output_per_mtok = 0.0
"""


def render(goal: str, check: str, workers: int, branch: str) -> str:
    """The template with the person's values, quoted as TOML strings."""
    return TEMPLATE.format(
        goal=json.dumps(goal), check=json.dumps(check), workers=workers, branch=json.dumps(branch)
    )
