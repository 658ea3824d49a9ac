"""``scorecards.pdf``: the weekly manager report (Jinja2 + WeasyPrint).

Layout (templates and CSS in the repo's ``reports/`` folder, shipped as ``audit.bundled_reports``):
cover (tenant, period, overall score, trend), table of contents, technician × step and
queue × step heat maps, rules with most failures, trend charts, then one page per technician and
per queue.

Safety: ticket text (titles, messages, names) is attacker-controlled. Jinja2 autoescaping is on and
no template marks data as safe; the only markup injected is the SVG this module draws itself.
WeasyPrint gets :class:`~audit.render.weasy.BundledOnlyFetcher`, which serves the bundled report
assets and refuses every other URL, so nothing in a ticket can make the renderer open a connection
or read a file.

The pieces: :mod:`audit.render.weasy` (assets, fetcher, HTML -> PDF), :mod:`audit.render.charts`
(the trend charts), :mod:`audit.render.pdf_parallel` (the worker-process writer); this module
builds the template's context and chooses the writer.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from audit.core.config import Config
from audit.core.errors import RenderError
from audit.core.safetext import xml_text
from audit.render.bands import score_limits
from audit.render.charts import trend_svg
from audit.render.markdown import costliest_rules, is_unassigned
from audit.render.pdf_parallel import write_parallel
from audit.render.weasy import (
    TEMPLATE,
    BundledOnlyFetcher,
    html_to_pdf,
    load_template,
)
from audit.results.summary import entity_key
from audit.results.thresholds import ThresholdResult

__all__ = [
    "PARALLEL_MIN_ENTITIES",
    "default_jobs",
    "template_environment",
    "render_report_html",
    "report_context",
    "write_pdf",
]

log = logging.getLogger(__name__)

_RATIONALE_CHARS = 120
_RULES_PER_TICKET = 3
#: Below this many technician + queue pages, one document is faster than starting workers.
PARALLEL_MIN_ENTITIES = 100
_MESSAGE_CHARS = 90
_TITLE_CHARS = 60
_NAME_CHARS = 40


# --------------------------------------------------------------------------- formatting helpers


def _fmt_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _fmt_compliance(cell: Mapping[str, Any] | None) -> str:
    """A ticket-compliance cell as "72.5 %" (``–`` when no ticket had a check)."""
    rate = (cell or {}).get("rate")
    return "–" if rate is None else f"{rate:.1f} %"


def _fmt_delta(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:+.1f}" if value else "±0.0"


def _truncate(text: Any, limit: int) -> str:
    value = "" if text is None or (isinstance(text, float) and text != text) else str(text)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _rule_list(rule_ids: Sequence[str], shown: int = _RULES_PER_TICKET) -> str:
    """A bounded list of rule ids (keeps each entity on one page)."""
    ids = list(rule_ids)
    more = len(ids) - shown
    return ", ".join(ids[:shown]) + (f" +{more} more" if more > 0 else "")


def _web_link(url: Any) -> str | None:
    """Only http(s) links become clickable; anything else stays text (no javascript:, file:)."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


# --------------------------------------------------------------------------- context


def _worst_tickets(
    findings: pd.DataFrame, key_col: str, other_col: str, limit: int
) -> dict[str, list[dict[str, Any]]]:
    """Per entity key: tickets with the most failed weight (open findings only), worst first.

    ``other_col`` names the other side of the ticket (the queue on a technician's page, the
    technician on a queue's page), shown beside the ticket's title.
    """
    if findings.empty:
        return {}
    open_ = findings[~findings["waived"].fillna(False).astype(bool)] if "waived" in findings else findings
    if open_.empty:
        return {}
    frame = open_.assign(
        _key=open_[key_col].map(entity_key),
        _w=pd.to_numeric(open_["weight"]).fillna(1.0),
        _title=open_["ticket_title"] if "ticket_title" in open_ else "",
        _other=open_[other_col].astype(object) if other_col in open_ else "",
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for key, group in frame.groupby("_key", sort=True):
        agg = (
            group.groupby(["ticket_number"], sort=True)
            .agg(
                weight=("_w", "sum"),
                rules=("rule_id", lambda s: sorted(set(s))),
                message=("message", "first"),
                url=("ticket_url", "first"),
                title=("_title", "first"),
                other=("_other", "first"),
            )
            .reset_index()
            .sort_values(["weight", "ticket_number"], ascending=[False, True], kind="stable")
            .head(limit)
        )
        out[str(key)] = [
            {
                "number": str(r.ticket_number),
                "url": _web_link(r.url),
                "weight": float(r.weight),
                "rules": _rule_list(r.rules),
                "message": _truncate(r.message, _MESSAGE_CHARS),
                "title": _truncate(r.title, _TITLE_CHARS),
                "other": _truncate(r.other, _NAME_CHARS),
            }
            for r in agg.itertuples(index=False)
        ]
    return out


#: The page title of the technician scorecard row that holds tickets without a technician.
UNASSIGNED_PAGE_TITLE = "Unassigned tickets"

_GATE_WHAT = {
    "overall": "Overall score",
    "ticket_compliance": "Ticket compliance %",
    "step": "Step",
    "rule": "Rule",
    "technician": "Technician",
    "queue": "Queue",
    "baseline": "Baseline",
}
#: Breached thresholds listed on the cover; the rest are counted (junit.xml and gate.json list all).
_COVER_BREACHES = 12


def gate_view(
    results: Sequence[ThresholdResult] | None, steps: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The gate as the cover shows it: ``passed`` / ``breached`` / ``none`` and each breached
    threshold (what, value, threshold)."""
    results = list(results or [])
    breached = [r for r in results if not r.passed]
    rows = []
    for r in breached[:_COVER_BREACHES]:
        key = r.key
        if r.kind == "step" and steps:
            key = next((v["label"] for k, v in steps.items() if k.casefold() == key.casefold()), key)
        rows.append(
            {
                "what": f"{_GATE_WHAT.get(r.kind, r.kind)} {key}".strip(),
                "value": r.score,
                "threshold": r.threshold,
                "message": r.message,
            }
        )
    status = "breached" if breached else ("passed" if results else "none")
    return {
        "status": status,
        "breached": rows,
        "more": max(0, len(breached) - _COVER_BREACHES),
        "checked": len(results),
    }


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def team_medians(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """Per step, the median of the technicians' step scores (people only, measured cells only):
    the one team figure a private scorecard shows beside the technician's own."""
    out: dict[str, float | None] = {}
    people = [t for t in summary["technicians"] if not is_unassigned(t)]
    for step in summary["steps"]:
        out[step] = _median(
            [
                t["steps"][step]["score"]
                for t in people
                if step in t["steps"] and t["steps"][step]["score"] is not None
            ]
        )
    out[""] = _median([t["score"] for t in people if t["score"] is not None])
    return out


def report_context(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    config: Config,
    *,
    gate: Sequence[ThresholdResult] | None = None,
) -> dict[str, Any]:
    """Everything the template needs, computed here so the template stays logic-free.

    ``gate``: the gate's threshold results, shown on the cover (none: "no thresholds").
    """
    steps = sorted(summary["steps"].items(), key=lambda kv: kv[1]["order"])
    rules = summary["rules"]
    trends = summary["trends"]
    top_rules = config.report.top_rules
    worst_n = config.report.worst_tickets
    # Ranked by what they cost (weight × failures, as score points), not by raw counts: a critical
    # rule failing 3 of 4 times is not buried under minor ones failing often.
    most_costly = costliest_rules(summary, top_rules)
    not_scored = [(rid, r) for rid, r in sorted(rules.items()) if r["status"] != "measured"]
    worst_by_tech = _worst_tickets(findings, "technician_id", "queue", worst_n)
    worst_by_queue = _worst_tickets(findings, "queue_id", "technician", worst_n)
    medians = team_medians(summary)
    limits = score_limits(config)
    step_labels = {k: v["label"] for k, v in steps}

    def pages(
        kind: str, entities: Sequence[Mapping[str, Any]], worst: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        out = []
        for index, e in enumerate(entities):
            failed_rules = sorted(
                (
                    {
                        **fr,
                        "title": rules.get(fr["rule_id"], {}).get("title", ""),
                        "rationale": _truncate(
                            rules.get(fr["rule_id"], {}).get("rationale", ""), _RATIONALE_CHARS
                        ),
                        "severity": rules.get(fr["rule_id"], {}).get("severity", ""),
                        "lost": fr["failed"] * float(rules.get(fr["rule_id"], {}).get("weight", 1)),
                    }
                    for fr in e["rules_failed"]
                    if fr["failed"] > 0
                ),
                key=lambda r: (-r["lost"], -r["failed"], r["rule_id"]),
            )[:top_rules]
            # The Unassigned row is tickets without a technician (charged to their queues), not a
            # person: its page and contents entry say so instead of reading "Technician Unassigned".
            unassigned = kind == "technician" and is_unassigned(e)
            trend = list(zip(trends["weeks"], trends[f"{kind}s"].get(e["key"], []), strict=False))
            out.append(
                {
                    "anchor": f"{kind}-{index}",
                    "kind": kind,
                    "entity": e,
                    "failed_rules": failed_rules,
                    "unassigned": unassigned,
                    "kind_label": "No technician" if unassigned else kind.capitalize(),
                    "title": UNASSIGNED_PAGE_TITLE if unassigned else e["name"],
                    "worst": worst.get(e["key"], []),
                    "other_label": "Queue" if kind == "technician" else "Technician",
                    # The gate checks people and queues, not the pseudo-rows of tickets without either
                    # (gate._named skips them): a threshold verdict there would be one the gate never made.
                    "no_queue": kind == "queue" and is_unassigned(e),
                    "lim": limits["default"] if is_unassigned(e) else limits[kind],
                    "trend": trend,
                    # Bars from 50 to 100: the weeks' differences show; the value is printed under each.
                    "bars": [
                        {
                            "week": w.split("-")[-1],
                            "value": v,
                            "height": 0 if v is None else min(100.0, max(3.0, (v - 50) * 2)),
                        }
                        for w, v in trend
                    ],
                }
            )
        return out

    step_series = {v["label"]: trends["steps"].get(k, []) for k, v in steps}
    overall_series = {"Overall": [c["score"] for c in trends["overall"]]}
    return {
        "summary": summary,
        "tenant": summary["tenant"],
        "period": summary["period"],
        "steps": steps,
        "step_labels": step_labels,
        "most_failed": most_costly,
        "not_scored": not_scored,
        # Reviewers' verdicts (``review import``): noisy rules show a low precision.
        "precision": sorted(
            ((rid, p) for rid, p in dict(summary.get("precision") or {}).items() if p.get("reviewed")),
            key=lambda kv: (kv[1]["precision"] if kv[1]["precision"] is not None else 2.0, kv[0]),
        ),
        "technician_pages": (tech_pages := pages("technician", summary["technicians"], worst_by_tech)),
        "queue_pages": (queue_pages := pages("queue", summary["queues"], worst_by_queue)),
        "entity_pages": tech_pages + queue_pages,
        "mode": "full",
        "inline_css": None,  # the PDF gets the stylesheet from WeasyPrint; scorecards.html inlines it
        "ticket_links": True,
        "gate": gate_view(gate, summary["steps"]),
        "limits": limits,
        "medians": medians,
        "compliance": summary.get("ticket_compliance") or summary["overall"].get("ticket_compliance"),
        "empty": not summary["overall"]["applicable"],
        "overall_trend": list(zip(trends["weeks"], overall_series["Overall"], strict=False)),
        # No week of the trend had a check: say so instead of drawing empty axes and tables of dashes.
        "no_trend": all(value is None for value in overall_series["Overall"]),
        # Weeks recomputed differently from what was published (the published value is shown).
        "revised": dict(trends.get("revised") or {}),
        "overall_chart": trend_svg(trends["weeks"], overall_series, title="Overall score by week"),
        "steps_chart": trend_svg(trends["weeks"], step_series, title="Score by step and week", height=3.6),
        "previous_score": (trends["overall"][-2]["score"] if len(trends["overall"]) >= 2 else None),
        "min_sample": summary.get("min_sample", config.thresholds.min_sample),
        "review": config.review,  # the noisy-rule setting the PDF names
    }


def _xml_safe(value: Any) -> Any:
    """Every printed value without the characters HTML/XML cannot hold (a NUL or BEL in a name
    breaks the PDF's text): shown escaped, keeping already-safe Markup (the charts) Markup."""
    if isinstance(value, Markup):
        return Markup(xml_text(str(value)))
    return xml_text(value) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    env = Environment(
        loader=FunctionLoader(load_template),
        autoescape=select_autoescape(
            enabled_extensions=("html", "xml"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        finalize=_xml_safe,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = _fmt_score
    env.filters["delta"] = _fmt_delta
    env.filters["link"] = _web_link
    env.filters["pct"] = _fmt_compliance
    return env


def render_report_html(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    config: Config,
    *,
    context: Mapping[str, Any] | None = None,
    gate: Sequence[ThresholdResult] | None = None,
    **overrides: Any,
) -> str:
    """The report as one HTML document (``mode='full'``); ``overrides`` replace context keys."""
    ctx = dict(context if context is not None else report_context(summary, findings, config, gate=gate))
    ctx.update(overrides)
    return template_environment().get_template(TEMPLATE).render(**ctx)


def default_jobs() -> int:
    return max(
        1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    )


def write_pdf(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: Path,
    config: Config,
    *,
    fetcher: BundledOnlyFetcher | None = None,
    jobs: int | None = None,
    parallel_min: int = PARALLEL_MIN_ENTITIES,
    gate: Sequence[ThresholdResult] | None = None,
    context: Mapping[str, Any] | None = None,
    keep_chunks: list[tuple[bytes, list[dict[str, Any]]]] | None = None,
) -> Path:
    """Write ``scorecards.pdf``; in worker processes when there are many entity pages.

    ``gate``: the gate's threshold results, for the cover's verdict; ``context``: a
    :func:`report_context` already computed (the HTML and private scorecards share it);
    ``keep_chunks``: see :func:`~audit.render.pdf_parallel.write_parallel` (left empty when one document is rendered).
    """
    fetcher = fetcher or BundledOnlyFetcher()
    ctx = dict(context) if context is not None else report_context(summary, findings, config, gate=gate)
    workers = default_jobs() if jobs is None else jobs
    if workers > 1 and len(ctx["entity_pages"]) >= parallel_min:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            template = template_environment().get_template(TEMPLATE)
            if write_parallel(template, ctx, path, fetcher, workers, keep_chunks):
                return path
            log.warning("an entity page overflowed one page: rendering the report as a single document")
        except OSError as exc:
            raise RenderError(f"cannot write {path}: {exc}") from exc
        except Exception as exc:
            raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    return html_to_pdf(render_report_html(summary, findings, config, context=ctx), path, fetcher=fetcher)
