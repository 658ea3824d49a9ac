"""``junit.xml``: one test case per rule and one per threshold, for CI test-report viewers.

A rule with failures fails and lists the offending tickets; not measured / disabled rules are
skipped (they were not checked, which is neither pass nor fail); an errored rule is an error.
Threshold results come from the gate (built elsewhere) through :class:`ThresholdResultLike`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

__all__ = ["MAX_LISTED_TICKETS", "ThresholdResult", "ThresholdResultLike", "junit_tree", "write_junit"]

#: Failure bodies list at most this many tickets (a rule failing on 20,000 rows must not produce a
#: megabyte of XML per test case); the count of the rest is given.
MAX_LISTED_TICKETS = 200


class ThresholdResultLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold check as the gate reports it (``skipped``: low-sample, cannot break on its own)."""

    name: str
    passed: bool
    message: str
    score: float | None = None
    limit: float | None = None
    skipped: bool = False


def _tickets_by_rule(findings: pd.DataFrame) -> dict[str, list[str]]:
    if findings.empty:
        return {}
    open_ = findings
    if "waived" in findings.columns:
        open_ = findings[~findings["waived"].fillna(False).astype(bool)]
    out: dict[str, list[str]] = {}
    for rid, group in open_.groupby("rule_id", sort=True):
        numbers = sorted({str(n) for n in group["ticket_number"].dropna()})
        out[str(rid)] = numbers
    return out


def _fmt(score: Any) -> str:
    return "n/a" if score is None else f"{score:.1f}"


def junit_tree(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    thresholds: Sequence[ThresholdResultLike] = (),
) -> ET.ElementTree:
    tickets = _tickets_by_rule(findings)
    root = ET.Element("testsuites", name="ticket-audit")
    rules_suite = ET.SubElement(root, "testsuite", name="rules")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for rid, rule in sorted(summary["rules"].items()):
        case = ET.SubElement(
            rules_suite, "testcase", classname=f"rules.{rule.get('step') or 'other'}",
            name=f"{rid} {rule.get('title', '')}".strip(), time="0",
        )
        counts["tests"] += 1
        status = rule.get("status", "measured")
        if status in ("not_measured", "disabled"):
            ET.SubElement(case, "skipped", message=f"{rid} {status.replace('_', ' ')}")
            counts["skipped"] += 1
        elif status == "error":
            ET.SubElement(case, "error", message=f"{rid} could not be evaluated", type="RuleError").text = str(
                rule.get("error") or "rule error"
            )
            counts["errors"] += 1
        elif rule.get("failed", 0) > 0:
            listed = tickets.get(rid, [])
            more = len(listed) - MAX_LISTED_TICKETS
            body = "\n".join(listed[:MAX_LISTED_TICKETS]) + (f"\n… and {more} more tickets" if more > 0 else "")
            ET.SubElement(
                case, "failure", type="RuleFailure",
                message=(f"{rid}: {rule['failed']} of {rule['applicable']} checks failed "
                         f"(score {_fmt(rule.get('score'))}, {len(listed)} tickets)"),
            ).text = body
            counts["failures"] += 1
        ET.SubElement(case, "system-out").text = (
            f"applicable={rule.get('applicable', 0)} passed={rule.get('passed', 0)} "
            f"failed={rule.get('failed', 0)} waived={rule.get('waived', 0)} score={_fmt(rule.get('score'))}"
            + (" low-sample" if rule.get("low_sample") else "")
        )
    for key, value in counts.items():
        rules_suite.set(key, str(value))
    rules_suite.set("time", "0")

    tcounts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    threshold_suite = ET.SubElement(root, "testsuite", name="thresholds")
    for result in thresholds:
        case = ET.SubElement(threshold_suite, "testcase", classname="thresholds", name=result.name, time="0")
        tcounts["tests"] += 1
        if getattr(result, "skipped", False):
            ET.SubElement(case, "skipped", message=result.message)
            tcounts["skipped"] += 1
        elif not result.passed:
            details = tuple(getattr(result, "details", ()) or ())  # e.g. the gate's new-finding keys
            ET.SubElement(case, "failure", type="ThresholdBreached", message=result.message).text = "\n".join(
                (result.message, *map(str, details))
            )
            tcounts["failures"] += 1
    for key, value in tcounts.items():
        threshold_suite.set(key, str(value))
    threshold_suite.set("time", "0")
    for key in counts:
        root.set(key, str(counts[key] + tcounts[key]))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: Path,
    thresholds: Sequence[ThresholdResultLike] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(summary, findings, thresholds).write(path, encoding="utf-8", xml_declaration=True)
    return path
