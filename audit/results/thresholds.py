"""Thresholds: a summary's scores checked against ``[thresholds]`` → results and an exit code.

Everything here works on plain data — the ``summary.json`` document (a dict) and the
``[thresholds]`` config section — so it can be tested without running the engine and re-run
from a previous run's output folder (``ticket-audit check``).

Semantics (the rule catalog's Scores section):

* a score passes a threshold when ``score >= threshold``;
* a low-sample score (fewer than ``min_sample`` applicable checks) is reported, and flagged when
  it is below its threshold, but never fails the gate on its own;
* a score with no applicable checks (``None``) is not measured: reported, never failing;
* a rule whose status is ``error`` is a *runtime* error (exit 3) — the caller passes
  ``runtime_error=True`` to :func:`gate_exit_code` (see :func:`rule_errors`);
* exit code precedence is 2 (config) > 3 (runtime) > 1 (threshold) > 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from audit.core.config import Thresholds
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, EXIT_THRESHOLD, ConfigError

__all__ = [
    "ThresholdResult",
    "as_int",
    "as_number",
    "check_score",
    "evaluate_thresholds",
    "gate_exit_code",
    "overall_cell",
    "resolve_thresholds",
    "rule_errors",
]

# Scores in summary.json are rounded; compare with a little slack so 85.0 meets 85.
_EPS = 1e-9


@dataclass(frozen=True)
class ThresholdResult:
    """One threshold (or ratchet) check.

    ``kind`` is ``overall``, ``ticket_compliance``, ``step``, ``rule``, ``technician``, ``queue`` or ``baseline``;
    ``key`` names what was measured (``""`` for overall, a step name, a rule id, a technician
    or queue name, or for ``baseline`` ``overall`` / ``step:<name>`` / ``rule:<id>`` /
    ``new-findings``). ``details`` carries extra lines (e.g. the new findings' keys).
    """

    kind: str
    key: str
    threshold: float
    score: float | None
    applicable: int | None
    low_sample: bool
    passed: bool
    message: str
    details: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        """Stable test-case name, e.g. ``threshold.rule.CLO-01`` (used by JUnit and annotations)."""
        prefix = "baseline" if self.kind == "baseline" else f"threshold.{self.kind}"
        return f"{prefix}.{self.key}" if self.key else prefix

    @property
    def warning(self) -> bool:
        """Below the threshold but not failing (low sample): worth a warning annotation."""
        return (
            self.passed and self.low_sample and self.score is not None and self.score + _EPS < self.threshold
        )

    @property
    def skipped(self) -> bool:
        """The threshold was not applied (not measured, or low sample below it): JUnit "skipped"."""
        return self.passed and self.kind != "baseline" and (self.score is None or self.warning)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = list(self.details)
        data["name"] = self.name
        data["warning"] = self.warning
        data["skipped"] = self.skipped
        return data


# ---------------------------------------------------------------------------------------------
# thresholds


def resolve_thresholds(thresholds: Thresholds, *, fail_under: float | None = None) -> Thresholds:
    """The config's ``[thresholds]`` with the ``--fail-under`` flag overriding ``overall``."""
    if fail_under is None:
        return thresholds
    if not (0 <= fail_under <= 100) or math.isnan(fail_under):
        raise ConfigError(f"--fail-under: expected a score between 0 and 100, got {fail_under}")
    return thresholds.model_copy(update={"overall": float(fail_under)})


def as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def as_int(value: Any) -> int | None:
    number = as_number(value)
    return None if number is None else int(number)


def _low_sample(entry: Mapping[str, Any], min_sample: int) -> bool:
    # Judged by the gate's own min_sample (scoring's flag is the same test with the run's
    # config): `check --config` with another min_sample must gate as `run` with it would.
    # The flag counts only where the entry has no denominator.
    applicable = as_int(entry.get("applicable"))
    if applicable is not None:
        return applicable < min_sample
    return entry.get("low_sample") is True


def check_score(
    kind: str, key: str, label: str, threshold: float, entry: Mapping[str, Any], min_sample: int
) -> ThresholdResult:
    score = as_number(entry.get("score"))
    applicable = as_int(entry.get("applicable"))
    low = _low_sample(entry, min_sample)
    n = f" (n={applicable})" if applicable is not None else ""
    if score is None:
        return ThresholdResult(
            kind,
            key,
            threshold,
            None,
            applicable,
            low,
            True,
            f"{label}: not measured (no applicable checks), threshold {threshold:g} not applied",
        )
    if score + _EPS >= threshold:
        return ThresholdResult(
            kind, key, threshold, score, applicable, low, True, f"{label}: {score:g} >= {threshold:g}{n}"
        )
    if low:
        # Catalog: a low-sample score is shown but never breaks a threshold on its own.
        return ThresholdResult(
            kind,
            key,
            threshold,
            score,
            applicable,
            low,
            True,
            f"{label}: {score:g} < {threshold:g}{n} — low sample "
            f"(< {min_sample} applicable checks), not failing",
        )
    return ThresholdResult(
        kind, key, threshold, score, applicable, low, False, f"{label}: {score:g} < {threshold:g}{n}"
    )


def _named(entries: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """Technicians/queues (scoring's list of entries) as (display key, entry) pairs.

    The "Unassigned" pseudo-row is skipped: it is nobody's scorecard, and its checks are already
    charged to the queues. Two people with the same name are told apart by their key (id).
    """
    pairs = [
        (str(entry.get("name")), entry)
        for entry in entries or []
        if isinstance(entry, Mapping) and not entry.get("unassigned")
    ]
    counts: dict[str, int] = {}
    for name, _ in pairs:
        counts[name] = counts.get(name, 0) + 1
    return [(f"{n} #{e.get('key')}" if counts[n] > 1 else n, e) for n, e in pairs]


def overall_cell(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant score with its denominator (scoring puts them in ``summary["overall"]``)."""
    cell = summary.get("overall")
    cell = cell if isinstance(cell, Mapping) else {}
    return {
        "score": summary.get("score"),
        "applicable": cell.get("applicable"),
        "low_sample": cell.get("low_sample"),
    }


def _ticket_compliance(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The share of the period's tickets that broke no rule, as a score cell (n = tickets)."""
    cell = summary.get("ticket_compliance")
    cell = cell if isinstance(cell, Mapping) else {}
    return {"score": cell.get("rate"), "applicable": cell.get("tickets")}


def _lookup(section: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    # Step names are matched case-insensitively: `step.closure` names the "Closure" step.
    if key in section:
        value = section[key]
        return value if isinstance(value, Mapping) else None
    folded = {str(k).casefold(): v for k, v in section.items()}
    value = folded.get(key.casefold())
    return value if isinstance(value, Mapping) else None


def evaluate_thresholds(summary: Mapping[str, Any], thresholds: Thresholds) -> list[ThresholdResult]:
    """Every configured threshold checked against ``summary`` (the ``summary.json`` document).

    A threshold naming a step or rule the summary does not have is a configuration error
    (exit 2): a typo must not silently pass the gate.
    """
    min_sample = thresholds.min_sample
    results: list[ThresholdResult] = []
    applicable = as_int(overall_cell(summary).get("applicable")) or 0
    if applicable == 0 and not thresholds.allow_empty:
        # Nothing extracted, or the wrong week: an audit of nothing must not pass as a success.
        label = (summary.get("period") or {}).get("label") or "the period"
        message = (
            f"nothing audited: 0 applicable checks in {label} (wrong period, or nothing extracted; "
            "set thresholds.allow_empty = true to accept an empty period)"
        )
        results.append(ThresholdResult("audit", "non-empty", 1.0, 0.0, 0, False, False, message))
    if thresholds.overall is not None:
        results.append(
            check_score("overall", "", "overall score", thresholds.overall, overall_cell(summary), min_sample)
        )
    if thresholds.ticket_compliance is not None:
        results.append(
            check_score(
                "ticket_compliance",
                "",
                "ticket compliance %",
                thresholds.ticket_compliance,
                _ticket_compliance(summary),
                min_sample,
            )
        )

    steps = summary.get("steps") or {}
    for name, threshold in sorted(thresholds.step.items()):
        entry = _lookup(steps, name)
        if entry is None:
            known = ", ".join(sorted(map(str, steps))) or "(none)"
            raise ConfigError(f"thresholds.step.{name}: no such step in the summary; steps: {known}")
        results.append(check_score("step", name, f"step {name}", threshold, entry, min_sample))

    rules = summary.get("rules") or {}
    for rule_id, threshold in sorted(thresholds.rule.items()):
        entry = _lookup(rules, rule_id)
        if entry is None:
            raise ConfigError(f"thresholds.rule.{rule_id}: no such rule in the summary")
        status = entry.get("status", "measured")
        if status in ("disabled", "not_measured"):
            results.append(
                ThresholdResult(
                    "rule",
                    rule_id,
                    threshold,
                    None,
                    as_int(entry.get("applicable")),
                    False,
                    True,
                    f"rule {rule_id}: {status}, threshold {threshold:g} not applied",
                )
            )
            continue
        if status == "error":
            # The exit code becomes 3 through rule_errors(); the threshold cannot be met either.
            results.append(
                ThresholdResult(
                    "rule",
                    rule_id,
                    threshold,
                    None,
                    None,
                    False,
                    False,
                    f"rule {rule_id}: the rule failed to evaluate ({entry.get('error') or 'error'})",
                )
            )
            continue
        results.append(check_score("rule", rule_id, f"rule {rule_id}", threshold, entry, min_sample))

    for kind, threshold_value in (("technician", thresholds.technician), ("queue", thresholds.queue)):
        if threshold_value is None:
            continue
        section = summary.get("technicians" if kind == "technician" else "queues")
        for name, entry in sorted(_named(section), key=lambda pair: pair[0]):
            results.append(check_score(kind, name, f"{kind} {name}", threshold_value, entry, min_sample))
    return results


def rule_errors(summary: Mapping[str, Any]) -> list[str]:
    """Rules that failed to evaluate (status ``error``): each is a runtime error (exit 3)."""
    out = []
    for rule_id, entry in sorted((summary.get("rules") or {}).items()):
        if isinstance(entry, Mapping) and entry.get("status") == "error":
            out.append(f"rule {rule_id} failed to evaluate: {entry.get('error') or 'error'}")
    return out


def gate_exit_code(
    results: Iterable[ThresholdResult], *, config_error: bool = False, runtime_error: bool = False
) -> int:
    """The design's exit code: 2 (config) > 3 (runtime) > 1 (threshold breached) > 0."""
    if config_error:
        return EXIT_CONFIG
    if runtime_error:
        return EXIT_RUNTIME
    if any(not r.passed for r in results):
        return EXIT_THRESHOLD
    return EXIT_OK
