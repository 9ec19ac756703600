"""Declared data in YAML (the action catalogue, the rules file): read, validate, name what is wrong.

Both files are lists of named entries a person edits by hand; an error must name the entry by its
name or id (not its list position), the field and pydantic's message, in one line, so that a typo
fails loudly at start-up instead of silently switching something off. One reader serves both.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rollcure.core.errors import InputError

M = TypeVar("M", bound=BaseModel)


def read_yaml(
    package: str, shipped: str, path: Path | str | None, option: str, what: str
) -> tuple[object, str]:
    """The parsed file and a label naming it; ``path=None`` reads the file shipped in ``package``."""
    if path is None:
        text = resources.files(package).joinpath(shipped).read_text()
        source = f"{what} (default {shipped})"
    else:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{option}: {what} not found: {path}")
        text, source = path.read_text(), f"{what} {path}"
    try:
        return yaml.safe_load(text), source
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML ({exc.__class__.__name__})") from exc


def validate_entries(model: type[M], raw: object, source: str, items: str, key: str, noun: str) -> M:
    """``model`` from ``raw``; an error names the entry of list ``items`` by its ``key`` and the field."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: top level must be a mapping ({', '.join(model.model_fields)})")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        listed = raw.get(items)
        entries: list[object] = listed if isinstance(listed, list) else []
        parts = []
        for e in exc.errors():
            loc = list(e["loc"])
            where = ".".join(str(p) for p in loc) or "<root>"
            if len(loc) >= 2 and loc[0] == items and isinstance(loc[1], int):
                item = entries[loc[1]] if loc[1] < len(entries) else None
                name = item.get(key) if isinstance(item, dict) else None
                field = ".".join(str(p) for p in loc[2:]) or f"<{noun}>"
                where = f"{noun} '{name or '#' + str(loc[1])}' field '{field}'"
            parts.append(f"{where}: {e['msg']}")
        raise InputError(f"{source}: {'; '.join(parts)}") from exc
