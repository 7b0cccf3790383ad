"""`shipyard init`'s template lists every key of the schema, with valid defaults, and renders as TOML data."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shipyard.cli.template import InitValues, render, template_text
from shipyard.config import (
    BackendConfig,
    GenerationConfig,
    PriceConfig,
    ProviderConfig,
    ShipyardConfig,
    load_config,
)
from shipyard.domain import Role

# A commented-out key (`# name = value`) or table (`# [name]`, `# [[name]]`) of the template.
COMMENTED = re.compile(r"^# ((\[\[?[\w.\"-:]+\]\]?)|([a-z_]+ = .*))$")
ENTRY_MODELS: dict[str, type[BaseModel]] = {
    "providers": ProviderConfig,
    "prices": PriceConfig,
    "backends": BackendConfig,
    "generation": GenerationConfig,
}


def _uncommented() -> dict[str, Any]:
    lines = [line[2:] if COMMENTED.match(line) else line for line in template_text().splitlines()]
    return tomllib.loads("\n".join(lines))


def _entry(name: str, table: dict[str, Any]) -> dict[str, Any]:
    """The one entry of a table of named entries (`[providers.openai]`, `[[backends.worker]]`)."""
    (value,) = table.values()
    return value[0] if isinstance(value, list) else value


def test_every_key_of_the_schema_is_in_the_template_and_valid() -> None:
    full = _uncommented()
    ShipyardConfig.model_validate(full)  # every default shown is a valid value
    assert set(full) == set(ShipyardConfig.model_fields)
    for name, info in ShipyardConfig.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            assert set(full[name]) == set(model.model_fields), name
        elif name in ENTRY_MODELS:
            assert set(_entry(name, full[name])) == set(ENTRY_MODELS[name].model_fields), name
    assert set(full["models"]) == {r.value for r in Role} | {"default"}


def test_the_live_template_is_valid_and_the_defaults_match_the_schema() -> None:
    live = tomllib.loads(template_text())
    config = ShipyardConfig.model_validate(live)
    defaults = ShipyardConfig()
    for section in ("limits", "fleet", "sandbox", "retry"):
        assert getattr(config, section) == getattr(defaults, section), section


def test_values_are_set_as_toml_data(tmp_path: Path) -> None:
    goal = 'Port "cli" to typer\nwith a second line and a # hash'
    tables = {"sandbox": {"allow_unsandboxed": True}, "chaos": {"seed": 3}}
    values = InitValues(goal, "pytest -q", 7, "trunk", models={"worker": "sim"}, tables=tables)
    (tmp_path / "shipyard.toml").write_text(render(values))
    config = load_config(tmp_path)
    assert (config.goal, config.check, config.workers, config.branch) == (goal, "pytest -q", 7, "trunk")
    assert config.models["worker"] == "sim" and config.sandbox.allow_unsandboxed
    assert config.chaos.seed == 3
    assert render(values).count("[sandbox]") == 1
