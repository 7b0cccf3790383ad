"""Role prompts: `string.Template` files with a system part and a user part, overridable per project."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from string import Template

from shipyard.agent.paths import read_inside
from shipyard.domain import Role
from shipyard.errors import ConfigError

SEPARATOR = "---user---"
EMPTY = "(none)"
# Variables that hold a whole paragraph and vanish when empty, instead of reading "(none)".
BLOCK_VARIABLES = frozenset({"conflict"})
_SEPARATOR_LINE = re.compile(rf"^{re.escape(SEPARATOR)}[ \t]*$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")
MAX_PROMPT_BYTES = 1_000_000


def render_prompt(
    role: Role, variables: Mapping[str, str], override_dir: Path | None, root: Path | None = None
) -> tuple[str, str]:
    """The (system, user) prompts of `role`: `override_dir/{role}.md` if it exists, else the packaged one.

    An override folder inside the repository at `root` holds what agents' merged commits may have put
    there: its files are read only as regular files inside the repository, never through a link out.
    """
    name, source = _load(role, override_dir, root)
    parts = _SEPARATOR_LINE.split(source, maxsplit=1)
    if len(parts) != 2:
        raise ConfigError(
            f"prompt file {name}: no `{SEPARATOR}` line; put one between the system and user parts"
        )
    values = {key: _value(key, value) for key, value in variables.items()}
    system, user = (_BLANK_RUNS.sub("\n\n", Template(p).safe_substitute(values)).strip() for p in parts)
    return system, user


def _value(key: str, value: str) -> str:
    if value.strip():
        return value.strip()
    return "" if key in BLOCK_VARIABLES else EMPTY


def _load(role: Role, override_dir: Path | None, root: Path | None) -> tuple[str, str]:
    """The name and text of the template for `role`."""
    filename = f"{role.value}.md"
    if override_dir is not None and root is not None:
        inside = Path(os.path.normpath(override_dir / filename))
        if inside.is_relative_to(root):
            return _load_inside(root, inside.relative_to(root).as_posix())
    if override_dir is not None and (override_dir / filename).is_file():
        path = override_dir / filename
        try:
            return str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"prompt file {path}: cannot read it as UTF-8 text ({exc})") from None
    return _packaged(filename)


def _load_inside(root: Path, name: str) -> tuple[str, str]:
    """The template at `root/name` read without leaving `root`; the packaged one when there is none."""
    path = root / name
    if not path.is_symlink() and not path.exists():
        return _packaged(path.name)
    text = read_inside(root, name, MAX_PROMPT_BYTES)
    if text is None:
        raise ConfigError(
            f"prompt file {path}: a link out of the repository or not a regular file; "
            "make it a regular file inside the repository"
        )
    return str(path), text


def _packaged(filename: str) -> tuple[str, str]:
    packaged = resources.files("shipyard.prompts").joinpath(filename)
    return f"shipyard/prompts/{filename}", packaged.read_text(encoding="utf-8")
