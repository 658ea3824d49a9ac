"""``summary.md``: a short Markdown digest for CI job summaries (GitHub, GitLab)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audit.core.period import describe_period
from audit.core.safetext import console_text
from audit.engine.tables import UNASSIGNED
from audit.results.thresholds import ThresholdResult
from audit.results.waivers import stale_waiver_lines

__all__ = ["costliest_rules", "is_unassigned", "render_error_markdown", "render_markdown", "write_summary_md"]


def is_unassigned(entity: Mapping[str, Any]) -> bool:
    """The scorecard pseudo-row of tickets without a technician (charged to queues), not a person.

    Summaries written before the ``unassigned`` flag existed are recognised by name and no id.
    """
    if "unassigned" in entity:
        return bool(entity["unassigned"])
    return entity.get("id") is None and entity.get("name") == UNASSIGNED


def _cell(text: object) -> str:
    # Names and titles come from the tenant: keep them from breaking the table or adding markup.
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    for ch in "*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return console_text(out)  # NUL, ESC, bidi overrides, lone surrogates: shown escaped


def _rate(cell: Mapping[str, Any] | None) -> str:
    rate = (cell or {}).get("rate")
    return "n/a" if rate is None else f"{rate:.1f} %"


def costliest_rules(summary: Mapping[str, Any], top: int) -> list[tuple[str, Mapping[str, Any]]]:
    """The ``top`` failing rules by the score points they cost (weight × failures), then failures."""
    return sorted(
        ((rid, r) for rid, r in summary.get("rules", {}).items() if r.get("failed", 0) > 0),
        key=lambda kv: (
            -kv[1].get("cost", kv[1]["failed"] * kv[1].get("weight", 1)),
            -kv[1]["failed"],
            kv[0],
        ),
    )[:top]


def _score(cell: Mapping[str, Any]) -> str:
    value = cell.get("score")
    text = "n/a" if value is None else f"{value:.1f}"
    return text + (" ⚠ low sample" if cell.get("low_sample") else "")


def render_markdown(
    summary: Mapping[str, Any], thresholds: Sequence[ThresholdResult] = (), *, top: int = 5
) -> str:
    tenant = summary.get("tenant", {}).get("name", "")
    period = summary.get("period", {})
    overall = summary.get("overall", {})
    lines = [
        f"## Ticket audit — {_cell(tenant)} — {_cell(describe_period(period))}",
        "",
        f"**Score {_score(overall)}** over {overall.get('applicable', 0)} checks "
        f"({overall.get('failed', 0)} failed, {overall.get('waived', 0)} waived"
        + (f", {overall['false_positive']} false positive" if overall.get("false_positive") else "")
        + ").",
        "",
    ]
    compliance = summary.get("ticket_compliance")
    if compliance:
        lines += [
            f"**Tickets that broke no rule: {_rate(compliance)}** "
            f"({compliance['compliant']} of {compliance['tickets']} tickets with a check).",
            "",
        ]
    stale = stale_waiver_lines(summary.get("waivers"))
    if stale:
        lines += ["Waivers that need attention:", "", *(f"- {_cell(line)}" for line in stale), ""]
    if summary.get("noisy_rules"):
        lines += [
            f"Noisy rules (precision below the review setting): {', '.join(map(_cell, summary['noisy_rules']))}",
            "",
        ]
    if thresholds:
        lines += ["| threshold | result |", "|---|---|"]
        for result in thresholds:
            mark = "skipped" if result.skipped else ("✅ met" if result.passed else "❌ breached")
            lines.append(f"| {_cell(result.name)} | {mark} — {_cell(result.message)} |")
        lines.append("")
    lines += ["| step | score | tickets OK | checks |", "|---|---:|---:|---:|"]
    for step in sorted(summary.get("steps", {}).values(), key=lambda s: s["order"]):
        lines.append(
            f"| {_cell(step['label'])} | {_score(step)} | {_rate(step.get('ticket_compliance'))} "
            f"| {step['applicable']} |"
        )
    lines.append("")
    failing = costliest_rules(summary, top)
    if failing:
        lines += ["| rule (by points lost) | points lost | failed | score |", "|---|---:|---:|---:|"]
        for rid, rule in failing:
            lines.append(
                f"| {rid} {_cell(rule.get('title', ''))} | {rule.get('cost', 0):.2f} | {rule['failed']} "
                f"| {_score(rule)} |"
            )
        lines.append("")
    problems = [
        f"{rid} ({r['status'].replace('_', ' ')})"
        for rid, r in sorted(summary.get("rules", {}).items())
        if r.get("status") == "error"
    ]
    if problems:
        lines += [f"Rules in error: {', '.join(problems)}", ""]
    worst = sorted(
        (
            t
            for t in summary.get("technicians", [])
            if t.get("score") is not None and not t.get("low_sample") and not is_unassigned(t)
        ),
        key=lambda t: (t["score"], t["name"]),
    )[:top]
    if worst:
        lines += ["| lowest technicians | score | tickets OK | checks |", "|---|---:|---:|---:|"]
        for tech in worst:
            lines.append(
                f"| {_cell(tech['name'])} | {_score(tech)} | {_rate(tech.get('ticket_compliance'))} "
                f"| {tech['applicable']} |"
            )
        lines.append("")
    return "\n".join(lines)


def render_error_markdown(error: str) -> str:
    """``summary.md`` of a run that failed (exit 3): what went wrong, so the CI job shows why."""
    # A fenced block shows the message as it is (paths, backticks) and keeps markup out of it.
    text = " ".join(error.replace("~~~", "~ ~ ~").split())
    return "\n".join(
        [
            "## Ticket audit — run failed",
            "",
            "~~~~",
            text,
            "~~~~",
            "",
            "No report was produced for this run (exit code 3).",
            "",
        ]
    )


def write_summary_md(
    summary: Mapping[str, Any], path: Path, thresholds: Sequence[ThresholdResult] = ()
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(summary, thresholds), encoding="utf-8")
    return path
