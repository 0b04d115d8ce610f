"""The Markdown table of settings classes, as the README shows it (`linli settings` gathers every service's)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import BaseSettings

from linli.settings.base import INSTALL_ROOT


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " / ".join(str(choice) for choice in get_args(annotation))
    if get_origin(annotation) in (list, dict):  # given as JSON in the variable
        return f"JSON {get_origin(annotation).__name__}"
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if args:  # Optional[X]: an unset value has its own meaning, given in the description.
        return f"{_type_name(args[0])}, optional"
    return getattr(annotation, "__name__", str(annotation))


def settings_table(classes: Sequence[type[BaseSettings]]) -> str:
    """The Markdown table of the settings of `classes`, as the README shows it."""
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            annotation = _type_name(field.annotation)
            default = field.default
            if isinstance(default, Path) and default.is_absolute():
                default = f"<install>/{default.relative_to(INSTALL_ROOT)}"
            shown = "" if default is None else str(default)
            if isinstance(default, list | dict | tuple):
                shown = json.dumps(default, ensure_ascii=False, default=str)
            elif isinstance(default, set | frozenset):  # sorted: a set's order changes from run to run
                shown = json.dumps(sorted(default), ensure_ascii=False)
            elif isinstance(default, BaseModel):
                shown = default.model_dump_json()
            rows.append(f"| `{prefix}{name.upper()}` | {annotation} | `{shown}` | {field.description} |")
    return "\n".join(rows)
