"""What is checked before any data is read or any request is sent.

The rules, the config's rule and step names, the waivers, the tenant mapping against the
picklists, ``--mail-to`` and ``--notify``: everything that can be wrong with the configuration
fails here with exit 2, naming the file and line, not after a whole extraction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import pandas as pd

from audit.core.config import Config
from audit.core.errors import ConfigError, MappingError
from audit.core.suggest import close_matches, did_you_mean
from audit.core.tomlload import TomlLines, toml_line
from audit.engine import RuleSet, load_ruleset
from audit.engine.frames import mapping_label_issues
from audit.render.notify import webhook_format
from audit.results.waivers import WaiverFile, load_waivers

__all__ = [
    "Prepared",
    "check_config_names",
    "check_delivery",
    "check_mail_to",
    "check_mapping",
    "prepare",
]


@dataclass
class Prepared:
    """What is validated before any data is touched."""

    ruleset: RuleSet
    waivers: WaiverFile | None


def prepare(
    config: Config, *, rules_dir: str | Path | None = None, waivers_file: str | Path | None = None
) -> Prepared:
    """Load and validate the rules, the config's rule and step names, and the waivers
    (ConfigError, exit 2, when any is wrong) — before any request is sent."""

    # Overrides do not change how rules compile; they are checked below against the loaded ids,
    # with the config line and the closest id (the loader's own check only names the file).
    ruleset = load_ruleset(
        rules_dir if rules_dir is not None else config.rules_dir, config.model_copy(update={"rules": {}})
    )
    check_config_names(config, ruleset)
    source = waivers_file if waivers_file is not None else config.waivers.file
    waivers = load_waivers(source) if source and Path(source).exists() else None
    if source and waivers_file is not None and not Path(source).exists():
        raise ConfigError("waivers file not found", file=str(source))
    return Prepared(ruleset, waivers)


def _config_text(config: Config) -> str | None:
    if not config.source:
        return None
    try:
        return Path(config.source).read_text(encoding="utf-8")
    except OSError:
        return None


def _close(name: str, candidates: Iterable[str], *, fold: bool) -> str:
    pool = sorted(set(candidates))
    if fold:
        by_fold = {c.casefold(): c for c in pool}
        found = close_matches(name.casefold(), list(by_fold))
        match = by_fold[found[0]] if found else None
    else:
        found = close_matches(name, pool)
        match = found[0] if found else None
    return f"; {did_you_mean([match])}" if match else ""


def check_config_names(config: Config, ruleset: RuleSet) -> None:
    """Every step and rule the config names must exist in ``ruleset`` (ConfigError, exit 2).

    ``[thresholds] step.<name>`` (steps match case-insensitively, as the gate matches them),
    ``[thresholds] rule."<id>"`` and ``[rules."<id>"]`` overrides. A typo would otherwise
    surface only at gate time, after a whole extraction — or, for an override, never. The
    error names the config file and line, the valid steps and the closest rule id.
    """

    steps = sorted({rule.step for rule in ruleset.rules})
    ids = list(ruleset.ids)
    problems: list[tuple[tuple[str, ...], str]] = []
    folded_steps = {s.casefold() for s in steps}
    for name in sorted(config.thresholds.step):
        if name.casefold() not in folded_steps:
            problems.append(
                (
                    ("thresholds", "step", name),
                    f"thresholds.step.{name}: no such step{_close(name, steps, fold=True)} "
                    f"(steps: {', '.join(steps)})",
                )
            )
    folded_ids = {i.casefold() for i in ids}
    for rule_id in sorted(config.thresholds.rule):
        if rule_id.casefold() not in folded_ids:
            problems.append(
                (
                    ("thresholds", "rule", rule_id),
                    f"thresholds.rule.{rule_id}: no such rule in the rule set{_close(rule_id, ids, fold=True)}",
                )
            )
    for rule_id in sorted(config.rules):
        if rule_id not in ids:
            problems.append(
                (
                    ("rules", rule_id),
                    f"rules.{rule_id}: override for an unknown rule id{_close(rule_id, ids, fold=False)}",
                )
            )
    if not problems:
        return
    text = _config_text(config)
    lines = TomlLines(text) if text is not None else None
    loc, _ = problems[0]
    line = lines.line(loc) if lines is not None else None
    raise ConfigError("; ".join(message for _, message in problems), file=config.source, line=line)


def check_mapping(config: Config, picklists: pd.DataFrame) -> list[str]:
    """The tenant mapping against the tenant's picklists (the store's ``_picklists``).

    An explicitly configured label the tenant lacks is a MappingError (exit 2) naming the
    config line; a catalog default it lacks is returned as a warning. The same judgement
    ``build_frames`` makes (``audit.engine.frames.mapping_label_issues``), made before extracting.
    """

    warnings: list[str] = []
    for issue in mapping_label_issues(config, picklists):
        if issue.explicit:
            text = _config_text(config)
            line = toml_line(text, ("mapping", issue.setting)) if text is not None else None
            raise MappingError(
                f"mapping.{issue.setting} ({issue.entity}.{issue.field})",
                issue.label,
                list(issue.available),
                file=config.source,
                line=line,
            )
        warnings.append(
            f"mapping.{issue.setting}: default label {issue.label!r} is not in the tenant's "
            f"{issue.entity}.{issue.field} picklist"
        )
    return warnings


def check_mail_to(addresses: Iterable[str]) -> list[str]:
    """``--mail-to`` addresses, validated before anything runs (ConfigError, exit 2)."""
    out: list[str] = []
    for raw in addresses:
        _, address = parseaddr(raw)
        local, at, domain = address.rpartition("@")
        if not (at and local and "." in domain.strip(".") and not any(c.isspace() for c in address)):
            raise ConfigError(f"--mail-to: {raw!r} is not an e-mail address (expected name@example.com)")
        out.append(raw)
    return out


def check_delivery(
    *,
    per_technician: bool = False,
    mail_each: bool = False,
    notify: str | None = None,
    notify_format: str | None = None,
) -> None:
    """``--notify`` / ``--notify-format`` checked before anything runs (ConfigError, exit 2)."""
    if notify:
        webhook_format(notify, notify_format)
