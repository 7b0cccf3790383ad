"""Everything checked before a run writes anything: what the person wrote first, then the machine.

Every problem found is reported at once, one line each, so a person fixes them in one go: a bad model
string is not hidden behind a missing bubblewrap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from shipyard import sections
from shipyard.agent.sandbox import require_sandbox
from shipyard.backends.catalog import covered_roles, here, resolve
from shipyard.cli.checks import check_checkout, check_no_unfinished_run
from shipyard.cli.sim import with_sim_goal
from shipyard.config import Overrides, ProviderConfig, ShipyardConfig, load_config
from shipyard.domain import Role
from shipyard.errors import ConfigError, Problems, SetupError, UserError
from shipyard.git import GitRepo
from shipyard.git.included import refuse_configs_inside
from shipyard.git.repo import git_problem
from shipyard.models.factory import (
    HTTP_PROVIDERS,
    ModelRef,
    ProviderSettings,
    check_provider_ready,
    parse_model_string,
)

T = TypeVar("T")


@dataclass
class Findings:
    """Problems found so far: the person's own input, then what the machine lacks."""

    person: list[str] = field(default_factory=list)
    machine: list[str] = field(default_factory=list)

    def attempt(self, fn: Callable[..., T], *args: object) -> T | None:
        """Run one check; a `UserError` is noted (a `SetupError` as the machine's) and None returned."""
        try:
            return fn(*args)
        except SetupError as exc:
            _add(self.machine, str(exc))
        except UserError as exc:
            _add(self.person, str(exc))
        return None

    def raise_any(self) -> None:
        lines = [*self.person, *self.machine]
        if lines:
            raise Problems(lines)


def _add(lines: list[str], line: str) -> None:
    if line not in lines:
        lines.append(line)


@dataclass(frozen=True)
class Checked:
    """A repository and a configuration that passed every check."""

    repo: GitRepo
    config: ShipyardConfig
    refs: dict[Role, ModelRef]


ConfigLoader = Callable[[Path, Overrides], ShipyardConfig]


def preflight(
    path: Path,
    overrides: Overrides,
    env: Mapping[str, str],
    *,
    unfinished_ok: bool = False,
    load: ConfigLoader = load_config,
) -> Checked:
    """Open the repository, load the configuration (`shipyard.toml` unless `load` says otherwise, e.g. a
    resumed run's own settings) and check both; `Problems` lists all that is wrong."""
    found = Findings()
    overrides = check_flags(found, overrides)
    repo = None
    if problem := git_problem():
        found.machine.append(problem)
    else:
        repo = found.attempt(GitRepo.open, path)
    config = found.attempt(load, repo.root if repo else Path(path), overrides)
    refs: dict[Role, ModelRef] = {}
    if config is not None:
        config = with_sim_goal(config)
        refs = check_config(found, config, env)
        if repo is not None:
            check_repo(found, repo, config, unfinished_ok)
        check_machine(found, config, env, address_flag=overrides.address is not None)
    found.raise_any()
    assert repo is not None and config is not None
    return Checked(repo, config, refs)


def check_flags(found: Findings, overrides: Overrides) -> Overrides:
    """`--engine` and `--address`: a bad engine is the person's problem, and the rest is checked as if
    the run were local (the flag wins over shipyard.toml, so its `[cluster]` would only add noise)."""
    engine = overrides.engine
    if engine in (None, "local") or (engine == "ray" and sections.ray_installed()):
        return overrides
    if engine != "ray":
        found.person.append(
            f"--engine `{engine}`: unknown engine; use --engine local (this machine) or --engine ray"
        )
    else:
        found.person.append(
            "--engine ray: Ray is not installed; run `pip install 'shipyard[ray]'` (or use --engine local)"
        )
    return replace(overrides, engine="local", address=None)


def check_config(found: Findings, config: ShipyardConfig, env: Mapping[str, str]) -> dict[Role, ModelRef]:
    """The person's input: goal, model strings, provider keys, scripted files, backend tables."""
    if not config.goal.strip():
        found.person.append("no goal: set `goal` (or `goal_file`) in shipyard.toml, or pass --goal TEXT")
    cli_only = covered_roles(config)
    refs: dict[Role, ModelRef] = {}
    missing: list[str] = []
    for role in Role:
        if role in cli_only:
            continue
        try:
            text = config.model_for(role)
        except ConfigError:
            missing.append(role.value)
            continue
        ref = found.attempt(parse_model_string, text)
        if ref is not None:
            refs[role] = ref
            found.attempt(_model_ready, config, ref, env)
    if missing:
        found.person.append(_no_model(missing))
    return refs


def _no_model(roles: list[str]) -> str:
    names = ", ".join(f"`{r}`" for r in roles)
    return (
        f"no model for {names}: set them under [models] in shipyard.toml "
        f"or pass --model {roles[0]}=openai:gpt-5.2 (--model PROVIDER:MODEL sets every role)"
    )


def _model_ready(config: ShipyardConfig, ref: ModelRef, env: Mapping[str, str]) -> None:
    if ref.provider in HTTP_PROVIDERS:
        check_provider_ready(ref, provider_settings(config.provider_config(ref.provider)), env)
    elif ref.provider == "scripted" and ref.model_id != "demo" and not Path(ref.model_id).is_file():
        raise ConfigError(f"scripted model file `{ref.model_id}` not found; give a JSON file path or `demo`")
    elif ref.provider not in ("scripted", "sim"):
        raise ConfigError(
            f"model provider `{ref.provider}` is not available in this version; use openai, "
            "openai-responses, anthropic, scripted or sim"
        )


def provider_settings(p: ProviderConfig | None) -> ProviderSettings:
    """The factory's settings for a `[providers.NAME]` table (defaults when there is none)."""
    if p is None:
        return ProviderSettings()
    return ProviderSettings(
        base_url=p.base_url, api_key_env=p.api_key_env, timeout_s=p.timeout_s, max_retries=p.max_retries
    )


def check_repo(found: Findings, repo: GitRepo, config: ShipyardConfig, unfinished_ok: bool) -> None:
    """The repository's state: the shared branch, the person's checkout, config files git reads from
    the work tree, an unfinished run."""
    if not repo.branch_exists(config.branch):
        found.person.append(
            f"branch `{config.branch}` does not exist in {repo.root}; "
            "create it or set `branch` in shipyard.toml"
        )
    else:
        found.attempt(check_checkout, repo, config.branch)
    found.attempt(refuse_configs_inside, repo.root, repo.git_dir)
    if not unfinished_ok:
        found.attempt(check_no_unfinished_run, repo)


def check_machine(
    found: Findings, config: ShipyardConfig, env: Mapping[str, str], *, address_flag: bool = False
) -> None:
    """What the machine must offer: the sandbox, the Ray cluster if configured, every CLI it runs (on a
    Ray cluster the workers' CLIs run on the nodes, which check them: `shipyard doctor`)."""
    found.attempt(require_sandbox, config.sandbox)
    if config.cluster.engine == "ray":  # an address nobody answers is refused before anything is written
        found.attempt(_join, config, address_flag, env)
    elif address_flag:
        found.person.append(
            "--address is the Ray cluster to run workers on: add --engine ray "
            '(or set `engine = "ray"` under [cluster] in shipyard.toml)'
        )
    for role, entries in here(config).items():
        source = Role.PLANNER if role is Role.SUBPLANNER and role.value not in config.backends else role
        for entry in entries:
            found.attempt(resolve, entry, f"backends.{source.value}", config, env)


def _join(config: ShipyardConfig, flag: bool, env: Mapping[str, str]) -> None:
    """Whether the cluster answers, named by where its address came from: `--address`, `$RAY_ADDRESS`
    (which Ray joins for `address = "auto"`) or shipyard.toml."""
    from shipyard.cluster.address import refuse_unreachable

    cluster, source = config.cluster, "--address" if flag else ""
    if cluster.address == "auto" and env.get("RAY_ADDRESS", "").strip():
        cluster, source = cluster.model_copy(update={"address": env["RAY_ADDRESS"].strip()}), "$RAY_ADDRESS"
    try:
        refuse_unreachable(cluster)
    except SetupError as exc:
        if not source:
            raise
        text = str(exc).replace("shipyard.toml: `cluster.address` =", source, 1)
        raise SetupError(text.replace("or fix the address", f"or fix {source}")) from None
