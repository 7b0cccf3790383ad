"""How each CLI is launched: a private home, one API key, offline settings, the role's permissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backend_fakes import RecordingSink

from shipyard.agent import AgentLimits, AgentRun, role_tools
from shipyard.backends.bridge import Bridge
from shipyard.backends.claude import ClaudeDialect
from shipyard.backends.codex import CodexDialect, native_binary
from shipyard.backends.dialect import CliSettings, Endpoint, Job, Launch
from shipyard.backends.home import CliHome
from shipyard.domain import Role

ENVIRON = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/root",
    "ANTHROPIC_API_KEY": "sk-ant-person",
    "OPENAI_API_KEY": "sk-person",
    "GITHUB_TOKEN": "ghp_secret",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "HTTPS_PROXY": "http://proxy.internal:3128",
}


def _launch(dialect: ClaudeDialect | CodexDialect, role: Role, tmp_path: Path) -> tuple[Launch, CliHome]:
    run = AgentRun(
        role,
        "worker-1",
        "SYSTEM",
        "PROMPT",
        role_tools(role, RecordingSink(), False),
        AgentLimits(max_steps=9),
    )
    settings = CliSettings(
        dialect.name, tmp_path / "cli", "m-1", dialect_key(dialect), "k-real", "https://provider.invalid"
    )
    home = CliHome.create(dialect.name)
    endpoint = Endpoint("http://127.0.0.1:9/route", "t-only")
    job = Job(run, tmp_path, home, settings, Bridge.of(run).schema(), "PROMPT + notes", ENVIRON, endpoint)
    return dialect.launch(job), home


def dialect_key(dialect: ClaudeDialect | CodexDialect) -> str:
    return "ANTHROPIC_API_KEY" if dialect.name == "claude" else "OPENAI_API_KEY"


def token_env(dialect: ClaudeDialect | CodexDialect) -> str:
    return "ANTHROPIC_API_KEY" if dialect.name == "claude" else "SHIPYARD_GATEWAY_TOKEN"


@pytest.mark.parametrize("dialect", [ClaudeDialect(), CodexDialect()])
def test_a_cli_gets_a_private_home_and_only_its_gateway_token(
    dialect: ClaudeDialect | CodexDialect, tmp_path: Path
) -> None:
    launch, home = _launch(dialect, Role.WORKER, tmp_path)
    try:
        env = launch.env
        secrets = {
            k: v
            for k, v in env.items()
            if v in ("t-only", "k-real", "sk-ant-person", "sk-person", "ghp_secret", "aws")
        }
        assert secrets == {token_env(dialect): "t-only"}  # no key: the gateway adds it upstream
        assert env["HOME"] == str(home.root) and env["PATH"].startswith(str(home.bin))
        assert "HTTPS_PROXY" not in env  # it talks to the gateway only; the gateway uses the proxy
        assert env["GIT_COMMITTER_EMAIL"] == "worker-1@cli.invalid"
        assert launch.stdin.read_text().endswith("PROMPT + notes")
    finally:
        home.remove()
    assert not home.root.exists()


def test_claude_code_runs_offline_with_the_role_tools(tmp_path: Path) -> None:
    launch, home = _launch(ClaudeDialect(), Role.PLANNER, tmp_path)
    argv, env = launch.argv, launch.env
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9/route"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1" and env["DISABLE_AUTOUPDATER"] == "1"
    assert env["CLAUDE_CONFIG_DIR"].startswith(str(home.root))
    assert argv[argv.index("--tools") + 1] == "Read,Glob,Grep"  # planners read
    assert argv[argv.index("--max-turns") + 1] == "9" and argv[argv.index("--model") + 1] == "m-1"
    assert json.loads(argv[argv.index("--json-schema") + 1])["required"] == ["summary", "create_task"]
    assert "--strict-mcp-config" in argv and argv[argv.index("--setting-sources") + 1] == ""
    exports = Path(env["CLAUDE_ENV_FILE"]).read_text()  # applied before each Bash command
    assert (
        exports == f"export PATH={env['PATH']}\n" and env["CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR"] == "1"
    )


def test_codex_runs_offline_in_its_sandbox(tmp_path: Path) -> None:
    launch, home = _launch(CodexDialect(), Role.JUDGE, tmp_path)
    try:
        config = (Path(launch.env["CODEX_HOME"]) / "config.toml").read_text()
        argv = launch.argv
        assert argv[argv.index("--sandbox") + 1] == "read-only"  # the judge does not edit
        schema = json.loads(Path(argv[argv.index("--output-schema") + 1]).read_text())
        assert set(schema["properties"]) == {"decision", "notes"}
    finally:
        home.remove()
    for line in (
        'base_url = "http://127.0.0.1:9/route"',
        'env_key = "SHIPYARD_GATEWAY_TOKEN"',
        'approval_policy = "never"',
        "check_for_update_on_startup = false",
        "plugins = false",
        'web_search = "disabled"',
        "allow_login_shell = false",  # no /etc/profile resetting PATH
        'exclude = ["SHIPYARD_GATEWAY_TOKEN"]',  # under [shell_environment_policy]
    ):
        assert line in config


def test_the_codex_sandbox_helper_is_the_native_binary(tmp_path: Path) -> None:
    launcher = tmp_path / "node_modules" / "@openai" / "codex" / "bin" / "codex.js"
    native = tmp_path / "node_modules" / "@openai" / "codex-linux-x64" / "vendor" / "x86_64" / "bin" / "codex"
    for path in (launcher, native):
        path.parent.mkdir(parents=True)
        path.write_text("")
    link = tmp_path / "node_modules" / ".bin" / "codex"
    link.parent.mkdir()
    link.symlink_to(launcher)
    assert native_binary(link) == native
    assert native_binary(native) == native
