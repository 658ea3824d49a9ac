"""Doctor checks of the config file, the waivers file and the rule files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.app.checks.result import CheckResult, fail, ok
from audit.app.preflight import prepare
from audit.core.config import Config, load_config
from audit.core.errors import (
    ConfigError,
)
from audit.results.waivers import load_waivers

if TYPE_CHECKING:
    pass


def check_config(config_file: str | None) -> tuple[CheckResult, Config | None]:
    if config_file is None:
        return ok("config", "no config file: every key at its catalog default", category="config"), Config()
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        return (
            fail(
                "config",
                str(exc),
                "fix the file; `ticket-audit config validate FILE` checks it alone",
                category="config",
            ),
            None,
        )
    explicit = len(config.explicit_mapping_keys)
    return ok("config", f"{config_file} is valid ({explicit} mapping key(s) set)", category="config"), config


def check_waivers(config: Config) -> CheckResult | None:
    if not config.waivers.file:
        return None

    try:
        load_waivers(config.waivers.file)
    except ConfigError as exc:
        return fail("waivers", str(exc), "fix the waivers file or unset waivers.file", category="config")
    return ok("waivers", f"{config.waivers.file} is valid", category="config")


def _rules_hint(config: Config, exc: ConfigError) -> str:
    """The command that lists every problem of the rules as this config loads them."""
    with_config = f" --config {config.source}" if config.source else ""
    if config.source and exc.file == config.source:  # a threshold or override naming no rule or step
        return f"`ticket-audit config validate {config.source}` lists every problem"
    if config.rules_dir:
        return f"`ticket-audit rules validate {config.rules_dir}{with_config}` lists every problem"
    if config.source:  # the bundled rules are fine on their own: this config is what they reject
        return f"`ticket-audit config validate {config.source}` lists every problem"
    return "the bundled rules are broken: reinstall ticket-audit"


def check_rules(config: Config | None) -> CheckResult:
    # With an invalid config the rules are still worth checking, against the defaults.
    cfg = config or Config()
    try:
        # The checks `run` makes before reading any data (rule files, and the config's threshold
        # and override names against them); the waivers file has a check of its own.
        no_waivers = cfg.waivers.model_copy(update={"file": None})
        ruleset = prepare(cfg.model_copy(update={"waivers": no_waivers})).ruleset
    except ConfigError as exc:
        problems = getattr(exc, "problems", None) or [exc]
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return fail("rules", f"{shown}{more}", _rules_hint(cfg, exc), category="config")
    except Exception as exc:  # a loader bug must still be a line, not a traceback
        return fail("rules", f"loading the rules failed: {type(exc).__name__}: {exc}", category="config")
    source = "bundled rules" if ruleset.source == "bundled" else ruleset.source
    return ok(
        "rules", f"{len(ruleset.rules)} rules valid ({source}, version {ruleset.digest})", category="config"
    )
