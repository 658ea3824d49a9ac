"""The CI gate: thresholds and the baseline ratchet evaluated against a summary → exit code.

Everything here works on plain data — the ``summary.json`` document (a dict), the findings
frame and the ``[thresholds]`` config section — so the gate can be tested without running the
engine and re-run from a previous run's output folder (``ticket-audit check``).

Semantics (design + rule catalog):

* a score passes a threshold when ``score >= threshold``;
* a low-sample score (fewer than ``min_sample`` applicable checks) is reported, and flagged when
  it is below its threshold, but never fails the gate on its own;
* a score with no applicable checks (``None``) is not measured: reported, never failing;
* a rule whose status is ``error`` is a *runtime* error (exit 3) — the caller passes
  ``runtime_error=True`` to :func:`exit_code` (see :func:`rule_errors`);
* exit code precedence is 2 (config) > 3 (runtime) > 1 (threshold) > 0.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.atomic import write_text_atomic
from audit.core.config import SEVERITY_WEIGHTS, Thresholds
from audit.core.errors import EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, EXIT_THRESHOLD, ConfigError
from audit.results.scoring import ratio, recount_compliance, rule_cost
from audit.results.waivers import key_text

__all__ = [
    "BASELINE_FORMAT",
    "FINDING_KEY",
    "GATE_FILE",
    "ThresholdResult",
    "annotations_enabled",
    "check_baseline",
    "evaluate_thresholds",
    "exit_code",
    "finding_keys",
    "format_result",
    "github_annotations",
    "load_baseline",
    "resolve_thresholds",
    "rescore_waived",
    "results_as_dicts",
    "rule_errors",
    "write_baseline",
    "write_gate_file",
]

#: The columns that identify one finding across runs (and in the QA workbook).
FINDING_KEY: tuple[str, str, str] = ("rule_id", "row_kind", "row_id")
#: Version of the baseline file layout (not of the rule set).
BASELINE_FORMAT = 1
#: The gate's own output in ``--out`` (``run`` and ``check``): threshold results, exit code, waivers.
GATE_FILE = "gate.json"

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


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _low_sample(entry: Mapping[str, Any], min_sample: int) -> bool:
    # Trust scoring's flag when present (it knows the denominator it used); else derive it.
    flag = entry.get("low_sample")
    if isinstance(flag, bool):
        return flag
    applicable = _int(entry.get("applicable"))
    return applicable is not None and applicable < min_sample


def _check(
    kind: str, key: str, label: str, threshold: float, entry: Mapping[str, Any], min_sample: int
) -> ThresholdResult:
    score = _number(entry.get("score"))
    applicable = _int(entry.get("applicable"))
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


def _overall(summary: Mapping[str, Any]) -> dict[str, Any]:
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
    applicable = _int(_overall(summary).get("applicable")) or 0
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
            _check("overall", "", "overall score", thresholds.overall, _overall(summary), min_sample)
        )
    if thresholds.ticket_compliance is not None:
        results.append(
            _check(
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
        results.append(_check("step", name, f"step {name}", threshold, entry, min_sample))

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
                    _int(entry.get("applicable")),
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
        results.append(_check("rule", rule_id, f"rule {rule_id}", threshold, entry, min_sample))

    for kind, threshold_value in (("technician", thresholds.technician), ("queue", thresholds.queue)):
        if threshold_value is None:
            continue
        section = summary.get("technicians" if kind == "technician" else "queues")
        for name, entry in sorted(_named(section), key=lambda pair: pair[0]):
            results.append(_check(kind, name, f"{kind} {name}", threshold_value, entry, min_sample))
    return results


def rule_errors(summary: Mapping[str, Any]) -> list[str]:
    """Rules that failed to evaluate (status ``error``): each is a runtime error (exit 3)."""
    out = []
    for rule_id, entry in sorted((summary.get("rules") or {}).items()):
        if isinstance(entry, Mapping) and entry.get("status") == "error":
            out.append(f"rule {rule_id} failed to evaluate: {entry.get('error') or 'error'}")
    return out


def exit_code(
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


# ---------------------------------------------------------------------------------------------
# baseline ratchet


def finding_keys(findings: pd.DataFrame, *, include_waived: bool = False) -> set[tuple[str, str, str]]:
    """``(rule_id, row_kind, row_id)`` of every finding (unwaived ones unless ``include_waived``)."""
    if findings is None or findings.empty:
        return set()
    missing = [c for c in FINDING_KEY if c not in findings.columns]
    if missing:
        raise ValueError(f"findings lack the key columns {missing}")
    frame = findings
    if not include_waived and "waived" in frame.columns:
        frame = frame[~_truthy(frame["waived"])]
    return {
        (key_text(r), key_text(k), key_text(i))
        for r, k, i in zip(frame["rule_id"], frame["row_kind"], frame["row_id"], strict=True)
    }


def _truthy(column: pd.Series) -> pd.Series:
    # findings.csv read back gives "True"/"False" strings; the engine gives booleans.
    if column.dtype == bool:
        return column
    return column.map(lambda v: str(v).strip().lower() in ("true", "1", "yes")).astype(bool)


def _ruleset_version(summary: Mapping[str, Any]) -> str | None:
    """The rule-set version scoring records in ``summary["tenant"]["ruleset_version"]``."""
    tenant = summary.get("tenant")
    value = tenant.get("ruleset_version") if isinstance(tenant, Mapping) else None
    return str(value) if value and isinstance(value, str | int) else None


def _scores(summary: Mapping[str, Any]) -> dict[str, Any]:
    def section(name: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, entry in sorted((summary.get(name) or {}).items()):
            if isinstance(entry, Mapping):
                out[str(key)] = {
                    "score": _number(entry.get("score")),
                    "applicable": _int(entry.get("applicable")),
                }
        return out

    return {"overall": _number(summary.get("score")), "steps": section("steps"), "rules": section("rules")}


def write_baseline(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: str | Path,
    *,
    ruleset_version: str | None = None,
) -> Path:
    """Record the current scores and unwaived finding keys as the ratchet's baseline (JSON); returns the path.

    Deterministic (sorted keys, no timestamp beyond the summary's as-of) so a committed
    baseline only changes when the audit's result does.
    """
    document = {
        "format": BASELINE_FORMAT,
        "ruleset_version": ruleset_version or _ruleset_version(summary),
        "as_of": summary.get("as_of"),
        "period": summary.get("period"),
        "scores": _scores(summary),
        "findings": [list(k) for k in sorted(finding_keys(findings))],
    }
    # Atomic: never leave a half-written baseline behind.
    return write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read a baseline written by :func:`write_baseline`; a bad file is a usage error (exit 2)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read baseline: {exc.strerror or exc}", file=str(p)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"baseline is not JSON: {exc.msg}", file=str(p), line=exc.lineno) from exc
    except ValueError as exc:  # a number longer than int() converts (sys.get_int_max_str_digits)
        raise ConfigError("not a ticket-audit baseline: a number too long to read", file=str(p)) from exc
    except RecursionError as exc:  # arrays or objects nested deeper than the parser recurses
        raise ConfigError("not a ticket-audit baseline: nested too deeply", file=str(p)) from exc
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or "scores" not in data:
        raise ConfigError(f"not a ticket-audit baseline (format {BASELINE_FORMAT} expected)", file=str(p))
    return data


def check_baseline(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    baseline: Mapping[str, Any],
    tolerance: float = 0.5,
    *,
    min_sample: int = 5,
) -> list[ThresholdResult]:
    """The ratchet: fail on a score drop beyond ``tolerance`` points or on findings new since the baseline.

    Scores compared: overall, each step, each rule present in both. A low-sample current score
    does not fail on its own (same rule as thresholds). New findings are unwaived findings whose
    key is not in the baseline, counted only for rules the baseline knew (a rule added since
    is not a regression of the desk).
    """
    results: list[ThresholdResult] = []
    base_scores = baseline.get("scores") or {}
    current = _scores(summary)

    def compare(key: str, label: str, before: Any, entry: Mapping[str, Any]) -> None:
        old = _number(before)
        if old is None:
            return
        threshold = old - tolerance
        result = _check(
            "baseline",
            key,
            f"{label} vs baseline {old:g} (tolerance {tolerance:g})",
            threshold,
            entry,
            min_sample,
        )
        results.append(result)

    compare("overall", "overall score", base_scores.get("overall"), _overall(summary))
    for section, label in (("steps", "step"), ("rules", "rule")):
        now_section = summary.get(section) or {}
        for key, before in sorted((base_scores.get(section) or {}).items()):
            entry = now_section.get(key)
            if not isinstance(entry, Mapping) or key not in current[section]:
                continue  # removed or renamed since the baseline: nothing to compare
            if section == "rules" and entry.get("status") in ("disabled", "not_measured", "error"):
                continue
            compare(f"{label}:{key}", f"{label} {key}", (before or {}).get("score"), entry)

    known_rules = set((base_scores.get("rules") or {}).keys())
    before_keys = {tuple(key_text(p) for p in k) for k in baseline.get("findings") or []}
    new = sorted(
        k for k in finding_keys(findings) if k not in before_keys and (not known_rules or k[0] in known_rules)
    )
    total = len(finding_keys(findings))
    if new:
        # By ticket number first: what a reader looks up in Autotask.
        numbers: dict[tuple[str, str, str], str] = {}
        if "ticket_number" in findings.columns and len(findings):
            for r, kind, row, number in zip(
                findings["rule_id"],
                findings["row_kind"],
                findings["row_id"],
                findings["ticket_number"],
                strict=True,
            ):
                numbers[(key_text(r), key_text(kind), key_text(row))] = key_text(number)
        shown = [f"{numbers.get((r, kind, row)) or '(no ticket)'}: {r} {kind} {row}" for r, kind, row in new]
        results.append(
            ThresholdResult(
                "baseline",
                "new-findings",
                0.0,
                float(len(new)),
                total,
                False,
                False,
                f"{len(new)} finding(s) new since the baseline",
                tuple(shown),
            )
        )
    else:
        results.append(
            ThresholdResult(
                "baseline", "new-findings", 0.0, 0.0, total, False, True, "no finding new since the baseline"
            )
        )
    version_then, version_now = baseline.get("ruleset_version"), _ruleset_version(summary)
    if version_then and version_now and version_then != version_now:
        # Informational: scores of a changed rule set are still compared, but say so.
        results.append(
            ThresholdResult(
                "baseline",
                "ruleset-version",
                0.0,
                None,
                None,
                False,
                True,
                f"rule set changed since the baseline ({version_then} -> {version_now})",
            )
        )
    return results


# ---------------------------------------------------------------------------------------------
# waivers applied after scoring (ticket-audit check --waivers)


def _entity_key(value: Any) -> str:
    number = _number(value)
    return "unassigned" if number is None else str(int(number))


def _move_to_passed(cell: Any, weight: float, *, weighted: bool) -> None:
    """One failed check of a score cell becomes a waived (passed) one; the score follows."""
    if not isinstance(cell, dict) or not cell.get("failed"):
        return
    cell["failed"] -= 1
    cell["passed"] = cell.get("passed", 0) + 1
    cell["waived"] = cell.get("waived", 0) + 1
    if not weighted:
        cell["score"] = ratio(cell["passed"], cell.get("applicable") or 0)
    elif "weighted_passed" in cell and "weighted_applicable" in cell:
        cell["weighted_passed"] = round(float(cell["weighted_passed"]) + weight, 4)
        cell["score"] = ratio(cell["weighted_passed"], float(cell["weighted_applicable"]))


def rescore_waived(
    summary: Mapping[str, Any], findings: pd.DataFrame, newly_waived: pd.Series
) -> dict[str, Any]:
    """``summary`` with findings waived after scoring counted as passed (a deep copy).

    ``check --waivers`` applies waivers to a previous run's findings; this moves each newly
    waived finding from failed to passed in its rule, step, technician, queue and overall cells,
    using the weighted sums scoring stores, so the gate sees the same scores a fresh run would.
    """
    out: dict[str, Any] = copy.deepcopy(dict(summary))
    if findings.empty or not bool(newly_waived.any()):
        return out
    rules = out.get("rules") or {}
    steps = out.get("steps") or {}
    techs = {str(e.get("key")): e for e in out.get("technicians") or [] if isinstance(e, dict)}
    queues = {str(e.get("key")): e for e in out.get("queues") or [] if isinstance(e, dict)}
    for row in findings[newly_waived.astype(bool)].to_dict("records"):
        rule = rules.get(str(row.get("rule_id")))
        weight = _number(row.get("weight"))
        if weight is None:
            weight = _number((rule or {}).get("weight")) or float(
                SEVERITY_WEIGHTS.get(str(row.get("severity")), 1)
            )
        step = str(row.get("step") or (rule or {}).get("step") or "")
        _move_to_passed(rule, weight, weighted=False)
        if isinstance(rule, dict) and "cost" in rule:  # the points a failure costs, as scoring counts them
            total = _number((out.get("overall") or {}).get("weighted_applicable")) or 0.0
            rule["cost"] = rule_cost(weight, int(rule.get("failed") or 0), total)
        _move_to_passed(steps.get(step), weight, weighted=True)
        _move_to_passed(out.get("overall"), weight, weighted=True)
        for table, column in ((techs, "technician_id"), (queues, "queue_id")):
            entity = table.get(_entity_key(row.get(column)))
            if entity is not None:
                _move_to_passed(entity, weight, weighted=True)
                _move_to_passed((entity.get("steps") or {}).get(step), weight, weighted=True)
    if isinstance(out.get("overall"), dict):
        out["score"] = out["overall"].get("score", out.get("score"))
    open_now = (
        ~_truthy(findings["waived"]) & ~newly_waived.astype(bool) if "waived" in findings else ~newly_waived
    )
    recount_compliance(out, findings[open_now.to_numpy()])
    return out


# ---------------------------------------------------------------------------------------------
# output


def format_result(result: ThresholdResult) -> str:
    """One console line: ``PASS``/``FAIL``/``WARN`` then the message."""
    tag = "FAIL" if not result.passed else ("WARN" if result.warning else "PASS")
    return f"{tag} {result.message}"


def results_as_dicts(results: Sequence[ThresholdResult]) -> list[dict[str, Any]]:
    """Plain dicts for renderers (JUnit test cases, summary.md table, gate.json)."""
    return [r.as_dict() for r in results]


def write_gate_file(
    out_dir: str | Path,
    *,
    exit_code: int,
    runtime_errors: Sequence[str],
    results: Sequence[ThresholdResult],
    waivers: Mapping[str, Any] | None = None,
    name: str = GATE_FILE,
) -> Path:
    """Write ``gate.json`` (the gate's results as plain data) into ``out_dir``; returns its path."""
    document = {
        "exit_code": exit_code,
        "runtime_errors": list(runtime_errors),
        "results": results_as_dicts(results),
        "waivers": dict(waivers) if waivers is not None else None,
    }
    return write_text_atomic(
        Path(out_dir) / name, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def annotations_enabled(env: Mapping[str, str] | None = None) -> bool:
    """GitHub Actions sets ``GITHUB_ACTIONS=true`` in every step."""
    value = (os.environ if env is None else env).get("GITHUB_ACTIONS", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def _escape_data(text: str) -> str:
    # Workflow-command escaping (actions/toolkit): %, CR and LF in the message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(
    results: Iterable[ThresholdResult], *, runtime_errors: Iterable[str] = ()
) -> list[str]:
    """``::error``/``::warning`` workflow-command lines for failed and low-sample results."""
    lines = [
        f"::error title={_escape_property('ticket-audit runtime error')}::{_escape_data(m)}"
        for m in runtime_errors
    ]
    for result in results:
        if not result.passed:
            level = "error"
        elif result.warning:
            level = "warning"
        else:
            continue
        message = result.message
        if result.details:
            message += "\n" + "\n".join(result.details[:50])
        lines.append(
            f"::{level} title={_escape_property('ticket-audit ' + result.name)}::{_escape_data(message)}"
        )
    return lines
