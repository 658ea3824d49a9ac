"""``junit.xml``: one test case per rule and one per threshold, for CI test-report viewers.

The report agrees with the exit code: a test case fails exactly when a threshold fails, so a
green pipeline never shows a red test report. A rule's case passes and carries its counts,
score and the tickets of its open findings (text and properties) — findings below a threshold
nobody set are information, not failures. Not measured / disabled rules are skipped (they were
not checked); an errored rule is an error (exit 3). Threshold results come from the gate
(:class:`audit.results.thresholds.ThresholdResult`). A run that failed (exit 3) writes one failing case
naming the error (:func:`write_error_junit`).

Names and messages come from the tenant: characters XML 1.0 cannot hold (control characters,
lone surrogates) are written escaped (``\x01``), so the file always parses.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from audit.core.safetext import xml_text
from audit.results.thresholds import ThresholdResult

__all__ = [
    "MAX_LISTED_TICKETS",
    "junit_tree",
    "write_error_junit",
    "write_junit",
]

#: Failure bodies list at most this many tickets (a rule failing on 20,000 rows must not produce a
#: megabyte of XML per test case); the count of the rest is given.
MAX_LISTED_TICKETS = 200


def _sanitise(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = xml_text(element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = xml_text(value)


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


def _properties(case: ET.Element, values: Mapping[str, Any]) -> None:
    props = ET.SubElement(case, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value="" if value is None else str(value))


def junit_tree(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    thresholds: Sequence[ThresholdResult] = (),
) -> ET.ElementTree:
    tickets = _tickets_by_rule(findings)
    limits = {
        r.name.removeprefix("threshold.rule."): r for r in thresholds if r.name.startswith("threshold.rule.")
    }
    root = ET.Element("testsuites", name="ticket-audit")
    rules_suite = ET.SubElement(root, "testsuite", name="rules")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for rid, rule in sorted(summary["rules"].items()):
        case = ET.SubElement(
            rules_suite,
            "testcase",
            classname=f"rules.{rule.get('step') or 'other'}",
            name=f"{rid} {rule.get('title', '')}".strip(),
            time="0",
        )
        counts["tests"] += 1
        status = rule.get("status", "measured")
        if status in ("not_measured", "disabled"):
            ET.SubElement(case, "skipped", message=f"{rid} {status.replace('_', ' ')}")
            counts["skipped"] += 1
        elif status == "error":
            ET.SubElement(
                case, "error", message=f"{rid} could not be evaluated", type="RuleError"
            ).text = str(rule.get("error") or "rule error")
            counts["errors"] += 1
        # Information, not a verdict: the threshold case (if any) carries the failure.
        listed = tickets.get(rid, [])
        limit = limits.get(rid)
        _properties(
            case,
            {
                "applicable": rule.get("applicable", 0),
                "passed": rule.get("passed", 0),
                "failed": rule.get("failed", 0),
                "waived": rule.get("waived", 0),
                "false_positive": rule.get("false_positive", 0),
                "score": _fmt(rule.get("score")),
                "low_sample": bool(rule.get("low_sample")),
                "findings": len(listed),
                "threshold": getattr(limit, "name", None),
            },
        )
        more = len(listed) - MAX_LISTED_TICKETS
        text = (
            f"applicable={rule.get('applicable', 0)} passed={rule.get('passed', 0)} "
            f"failed={rule.get('failed', 0)} waived={rule.get('waived', 0)} "
            f"false_positive={rule.get('false_positive', 0)} score={_fmt(rule.get('score'))}"
            + (" low-sample" if rule.get("low_sample") else "")
            + (f" threshold: {limit.message}" if limit is not None else " (no threshold)")
        )
        if listed:
            text += (
                f"\n{len(listed)} ticket(s) with open findings:\n"
                + "\n".join(listed[:MAX_LISTED_TICKETS])
                + (f"\n… and {more} more tickets" if more > 0 else "")
            )
        ET.SubElement(case, "system-out").text = text
    for key, value in counts.items():
        rules_suite.set(key, str(value))
    rules_suite.set("time", "0")

    tcounts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    threshold_suite = ET.SubElement(root, "testsuite", name="thresholds")
    for result in thresholds:
        case = ET.SubElement(threshold_suite, "testcase", classname="thresholds", name=result.name, time="0")
        tcounts["tests"] += 1
        if result.skipped:
            ET.SubElement(case, "skipped", message=result.message)
            tcounts["skipped"] += 1
        elif not result.passed:
            details = result.details  # e.g. the gate's new-finding keys
            ET.SubElement(case, "failure", type="ThresholdBreached", message=result.message).text = "\n".join(
                (result.message, *map(str, details))
            )
            tcounts["failures"] += 1
    for key, value in tcounts.items():
        threshold_suite.set(key, str(value))
    threshold_suite.set("time", "0")
    for key in counts:
        root.set(key, str(counts[key] + tcounts[key]))
    _sanitise(root)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: Path,
    thresholds: Sequence[ThresholdResult] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(summary, findings, thresholds).write(path, encoding="utf-8", xml_declaration=True)
    return path


def write_error_junit(path: Path, error: str) -> Path:
    """``junit.xml`` of a run that failed (exit 3): one failing case naming the error."""
    root = ET.Element("testsuites", name="ticket-audit", tests="1", failures="1", errors="0", skipped="0")
    suite = ET.SubElement(
        root, "testsuite", name="run", tests="1", failures="1", errors="0", skipped="0", time="0"
    )
    case = ET.SubElement(suite, "testcase", classname="run", name="ticket-audit run", time="0")
    ET.SubElement(case, "failure", type="RuntimeError", message=error).text = error
    _sanitise(root)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
