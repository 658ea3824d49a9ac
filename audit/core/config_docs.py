"""Documentation generated from the config model itself: the starter file and the key reference.

One source of truth: the pydantic fields (their defaults and descriptions). ``config init``
writes :func:`starter_toml`; ``docs/configuration.md`` is :func:`reference_markdown`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from audit.core.config import Config

__all__ = ["starter_toml", "reference_markdown", "iter_keys"]

_SECTION_HELP: dict[str, str] = {
    "mapping": "How this tenant names things: the catalog's tenant mapping (labels, markers, settings).",
    "extract": "Extraction from the Autotask API.",
    "evaluate": "Rule evaluation.",
    "rules": 'Per-rule overrides, e.g. [rules."SLA-07"] enabled = true, or severity = "minor".',
    "thresholds": "The gate: scores below these fail the run (exit 1).",
    "report": "Report settings.",
    "mail": "SMTP delivery of the PDF (the password comes from the environment variable named by password_env).",
    "waivers": "Waivers: accepted exceptions that count as passed.",
    "review": "The QA review loop: the Sample sheet of tickets without findings (recall) and noisy rules (precision).",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple, frozenset, set)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def iter_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, Any, str, str]]:
    """(dotted key, default, type, description) for every documented key."""
    rows: list[tuple[str, Any, str, str]] = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        default = info.get_default(call_default_factory=True)
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(iter_keys(annotation, f"{prefix}{name}."))
            continue
        type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        rows.append((f"{prefix}{name}", default, type_name, info.description or ""))
    return rows


def starter_toml() -> str:
    """A commented config file holding every key with its default (valid TOML; loads back equal)."""
    lines = [
        "# ticket-audit configuration. Every key is optional: the values below are the defaults.",
        "# Credentials never go here: set AUTOTASK_USERNAME, AUTOTASK_SECRET, AUTOTASK_INTEGRATION_CODE.",
        "",
    ]
    top: list[str] = []
    sections: dict[str, list[str]] = {}
    for key, default, _type, description in iter_keys():
        section, _, leaf = key.rpartition(".")
        if not section and leaf in _SECTION_HELP:
            continue  # a table of its own (e.g. [rules."ID"]): documented by its section comment
        if default is None:
            entry = [f"# {description}" if description else None, f"# {leaf} = ..."]
        else:
            entry = [f"# {description}" if description else None, f"{leaf} = {_toml_value(default)}"]
        (sections.setdefault(section, []) if section else top).extend(e for e in entry if e)
    lines.extend(top)
    for section in _SECTION_HELP:
        lines.append("")
        lines.append(f"# {_SECTION_HELP[section]}")
        if section in sections:
            lines.append(f"[{section}]")
            lines.extend(sections[section])
        else:
            lines.append(f'# [{section}."SLA-07"]')
            lines.append("# enabled = true")
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """``docs/configuration.md``: every key, its type, default and meaning."""
    out = [
        "# Configuration reference",
        "",
        "Generated from `audit/core/config.py` by `ticket-audit config reference`; do not edit by hand.",
        "One TOML file (`--config FILE`); every key has a default. Unknown keys, wrong types (strict:",
        '`true` or `"85"` is not a number), numbers out of range, `inf`/`nan` and unknown time zones exit 2',
        "with the file and line. `ticket-audit config init` writes a commented starter file.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, default, type_name, description in iter_keys():
        shown = "—" if default is None else f"`{_toml_value(default)}`"
        out.append(f"| `{key}` | {type_name.replace('|', '∣')} | {shown.replace('|', '∣')} | {description} |")
    out.append("")
    return "\n".join(out)
