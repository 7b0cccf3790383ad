"""The commented `shipyard.toml` that `shipyard init` and the demo write: one template, values set as TOML.

Every key of the configuration is here, live or commented out with its default; a test uncomments them
all and compares the result with the schema in `shipyard.config`, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import tomlkit


@dataclass(frozen=True)
class InitValues:
    """The values a person (or the demo) gives; everything else keeps the template's defaults."""

    goal: str = ""
    check: str = ""
    workers: int = 4
    branch: str = "main"
    goal_file: str = ""
    models: Mapping[str, str] = field(default_factory=dict)
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def template_text() -> str:
    """The template itself, with every key and its comment."""
    return files("shipyard.cli").joinpath("init.toml").read_text(encoding="utf-8")


def render(values: InitValues) -> str:
    """The template with the person's values set as TOML data (comments kept), never text appended."""
    doc = tomlkit.parse(template_text())
    doc["goal"] = values.goal
    doc["check"] = values.check
    doc["workers"] = values.workers
    doc["branch"] = values.branch
    if values.goal_file:
        doc["goal_file"] = values.goal_file
    for name, entries in [("models", values.models), *values.tables.items()]:
        if name not in doc:  # a table the template shows only commented out
            doc[name] = tomlkit.table()
        table = doc[name]
        assert isinstance(table, tomlkit.items.Table)
        for key, value in entries.items():
            table[key] = value
    return tomlkit.dumps(doc)
