"""``scorecards.pdf``: the weekly manager report (Jinja2 + WeasyPrint).

Layout (templates and CSS in the repo's ``reports/`` folder, shipped as ``audit.bundled_reports``):
cover (tenant, period, overall score, trend), table of contents, technician × step and
queue × step heat maps, rules with most failures, trend charts, then one page per technician and
per queue.

Safety: ticket text (titles, messages, names) is attacker-controlled. Jinja2 autoescaping is on and
no template marks data as safe; the only markup injected is the SVG this module draws itself.
WeasyPrint gets :class:`BundledOnlyFetcher`, which serves the bundled report assets and refuses
every other URL, so nothing in a ticket can make the renderer open a connection or read a file.
"""

from __future__ import annotations

import io
import itertools
import logging
import mimetypes
import multiprocessing
import os
import re
import statistics
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, StreamObject

from audit.core.config import Config
from audit.core.errors import RenderError
from audit.core.progress import progress_bar
from audit.core.safetext import xml_text
from audit.render.markdown import costliest_rules, is_unassigned
from audit.results.gate import ThresholdResult
from audit.results.scoring import entity_key

__all__ = [
    "REPORTS_PACKAGE",
    "PARALLEL_MIN_ENTITIES",
    "BundledOnlyFetcher",
    "band",
    "default_jobs",
    "html_to_pdf",
    "render_report_html",
    "report_context",
    "trend_svg",
    "write_pdf",
]

log = logging.getLogger(__name__)

REPORTS_PACKAGE = "audit.bundled_reports"
TEMPLATE = "report.html"
STYLESHEET = "report.css"
_RATIONALE_CHARS = 120
_RULES_PER_TICKET = 3
#: Below this many technician + queue pages, one document is faster than starting workers.
PARALLEL_MIN_ENTITIES = 100
_MESSAGE_CHARS = 90
_TITLE_CHARS = 60
_NAME_CHARS = 40


# --------------------------------------------------------------------------- resources


def _weasyprint() -> ModuleType:
    """WeasyPrint, imported when a PDF is made: the one import not at the module top, because it
    loads the Pango and Cairo system libraries. A machine without them must still run every other
    command, and ``doctor`` must be able to say what is missing, rather than fail at start-up."""
    import weasyprint
    import weasyprint.urls

    module: ModuleType = weasyprint  # untyped here (no stubs): the module is all we promise
    return module


def _bundled_dir() -> Path:
    # The wheel installs the package as real files (setuptools, not zipped), so a Path is available.
    return Path(str(resources.files(REPORTS_PACKAGE)))


def _load_template(name: str) -> str | None:
    resource = resources.files(REPORTS_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


class BundledOnlyFetcher:
    """A WeasyPrint URL fetcher that serves only the bundled report assets.

    Anything else (http, https, ftp, data, other files) is refused and recorded in ``refused``;
    WeasyPrint then logs a warning and renders without the resource.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or _bundled_dir()).resolve()
        self.refused: list[str] = []
        self._fail_on_errors = False  # read by weasyprint.urls.fetch (duck-typed URLFetcher)

    @property
    def base_url(self) -> str:
        return self.root.as_uri() + "/"

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        parts = urlsplit(url)
        if parts.scheme == "file" and not parts.netloc:
            candidate = Path(unquote(parts.path)).resolve()
            if candidate.is_relative_to(self.root) and candidate.is_file():
                mime = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
                return _weasyprint().urls.URLFetcherResponse(
                    url, candidate.read_bytes(), {"Content-Type": mime}
                )
        self.refused.append(url)
        log.warning("report renderer refused to fetch %s (only bundled assets are allowed)", url[:200])
        raise ValueError(f"refused: only bundled report assets may be loaded, not {url[:200]!r}")

    def __call__(self, url: str) -> Any:
        return self.fetch(url)


# --------------------------------------------------------------------------- formatting helpers


def band(
    score: float | None,
    threshold: float | None = None,
    *,
    low_sample: bool = False,
    good: float = 90.0,
    warn: float = 75.0,
) -> str:
    """Score band for the heat maps; the template prints a glyph for it, so grey print still reads.

    With a ``threshold`` the band is the gate's verdict: at or above it passes (``good``), below it
    is ``bad`` — or ``warn`` when the sample is too small to fail the gate. Without one, the
    ``good`` / ``warn`` limits (``[report] band_good`` / ``band_warn``) split the scores.
    """
    if score is None:
        return "na"
    if threshold is not None:
        if score + 1e-9 >= threshold:
            return "good"
        return "warn" if low_sample else "bad"
    if score >= good:
        return "good"
    if score >= warn:
        return "warn"
    return "bad"


@dataclass(frozen=True)
class Limits:
    """How the cells of one kind of score are banded: its threshold if one is configured, else the
    report's default bands. Used from the template: ``limits.technician.band(cell)``."""

    threshold: float | None
    good: float
    warn: float

    def band(self, cell: Mapping[str, Any] | float | None) -> str:
        if isinstance(cell, Mapping):
            return band(
                cell.get("score"),
                self.threshold,
                low_sample=bool(cell.get("low_sample")),
                good=self.good,
                warn=self.warn,
            )
        return band(cell, self.threshold, good=self.good, warn=self.warn)

    def glyph(self, cell: Mapping[str, Any] | float | None) -> str:
        return _GLYPHS[self.band(cell)]

    def legend(self) -> list[tuple[str, str]]:
        """(band, text) pairs for the legend."""
        if self.threshold is not None:
            t = f"{self.threshold:g}"
            return [("good", f"✓ ≥ {t}"), ("warn", f"● < {t}, low sample"), ("bad", f"▼ < {t}")]
        return [
            ("good", f"✓ ≥ {self.good:g}"),
            ("warn", f"● {self.warn:g}–{self.good:g}"),
            ("bad", f"▼ < {self.warn:g}"),
        ]


def score_limits(config: Config) -> dict[str, Any]:
    """The band limits of every kind of score, from ``[thresholds]`` and ``[report]``."""
    th, rep = config.thresholds, config.report

    def make(threshold: float | None) -> Limits:
        return Limits(threshold, rep.band_good, rep.band_warn)

    steps = {name.casefold(): make(value) for name, value in th.step.items()}
    return {
        "overall": make(th.overall),
        "technician": make(th.technician),
        "queue": make(th.queue),
        "ticket_compliance": make(th.ticket_compliance),
        "default": make(None),
        "step": lambda name: steps.get(str(name).casefold(), make(None)),
    }


_GLYPHS = {"good": "✓", "warn": "●", "bad": "▼", "na": ""}


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


# --------------------------------------------------------------------------- charts


def trend_svg(
    weeks: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    width: float = 6.8,
    height: float = 2.4,
) -> Markup:
    """A line chart as inline SVG markup, deterministic (fixed hash salt, no date metadata).

    Series differ by marker and line style, and each line is labelled at its end, so the chart
    reads in grayscale.
    """

    matplotlib.use("Agg")

    markers = ("o", "s", "^", "D", "v", "P", "X", "*")
    styles = ("-", "--", "-.", ":")
    labels = [w.split("-")[-1] for w in weeks]
    with plt.rc_context(
        {"svg.hashsalt": "ticket-audit", "svg.fonttype": "path", "font.size": 8, "font.family": "DejaVu Sans"}
    ):
        fig, ax = plt.subplots(figsize=(width, height))
        try:
            x = list(range(len(weeks)))
            for i, (name, values) in enumerate(series.items()):
                ys = [float("nan") if v is None else v for v in values]
                # Colour (tab10), marker and dash all differ from one line to the next: told apart
                # on screen, and still in grayscale print.
                ax.plot(
                    x,
                    ys,
                    marker=markers[i % len(markers)],
                    linestyle=styles[i % len(styles)],
                    color=f"C{i % 10}",
                    linewidth=1.3,
                    markersize=4,
                    label=name,
                )
                last = next(
                    ((xi, yi) for xi, yi in reversed(list(zip(x, ys, strict=True))) if yi == yi), None
                )
                if last is not None and len(series) == 1:  # several series: the legend and table label them
                    ax.annotate(
                        f"{last[1]:.1f}",
                        last,
                        xytext=(4, 0),
                        textcoords="offset points",
                        fontsize=7,
                        va="center",
                    )
            ax.set_xticks(x, labels)
            ax.set_ylim(
                max(0, min([v for s in series.values() for v in s if v is not None] or [0]) - 10), 101
            )
            ax.set_xlim(-0.3, len(weeks) - 1 + 0.8)
            ax.grid(True, axis="y", linewidth=0.4, color="0.8")
            ax.spines[["top", "right"]].set_visible(False)
            ax.set_ylabel("score")
            if title:
                ax.set_title(title, fontsize=9, loc="left")
            if len(series) > 1:
                ax.legend(fontsize=6.5, ncol=min(4, len(series)), loc="lower left", frameon=False)
            buffer = io.StringIO()
            fig.savefig(
                buffer, format="svg", metadata={"Date": None, "Creator": "ticket-audit"}, bbox_inches="tight"
            )
        finally:
            plt.close(fig)
    svg = buffer.getvalue()
    # Inline the <svg> element itself (no XML prolog / DOCTYPE inside HTML), without matplotlib's
    # RDF <metadata> (it names outside vocabularies by URL; scorecards.html refers to nothing
    # outside itself). It is our own drawing, so it is the one piece of markup marked safe.
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg") :], flags=re.DOTALL)
    return Markup(svg)


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
def _environment() -> Environment:
    env = Environment(
        loader=FunctionLoader(_load_template),
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
    return _environment().get_template(TEMPLATE).render(**ctx)


def _stylesheets(fetcher: BundledOnlyFetcher, extra_css: str = "") -> list[Any]:
    sheets = [
        _weasyprint().CSS(
            string=_load_template(STYLESHEET) or "", base_url=fetcher.base_url, url_fetcher=fetcher
        )
    ]
    if extra_css:
        sheets.append(_weasyprint().CSS(string=extra_css, base_url=fetcher.base_url, url_fetcher=fetcher))
    return sheets


def _render_document(html: str, fetcher: BundledOnlyFetcher, extra_css: str = "") -> Any:
    return (
        _weasyprint()
        .HTML(string=html, base_url=fetcher.base_url, url_fetcher=fetcher)
        .render(stylesheets=_stylesheets(fetcher, extra_css))
    )


def html_to_pdf(html: str, path: Path, *, fetcher: BundledOnlyFetcher | None = None) -> Path:
    """Render HTML to PDF with the bundled stylesheet and the bundled-only fetcher."""
    fetcher = fetcher or BundledOnlyFetcher()
    try:
        document = _render_document(html, fetcher)
        path.parent.mkdir(parents=True, exist_ok=True)
        document.write_pdf(path)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc}") from exc
    except Exception as exc:  # WeasyPrint failures surface as a renderer error (exit 3)
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    return path


# --------------------------------------------------------------------------- parallel rendering
#
# WeasyPrint lays a document out on one core; the 300-technician report is ~350 pages. In parallel
# mode, worker processes render the entity pages in chunks (body only, no page header/footer)
# from the start, while the main process renders the overview with one *stub* page per entity:
# the stub carries the entity's anchor, bookmark, running header and "Page X of Y" footer, so the
# TOC's target-counter, the heat-map links and the bookmarks all resolve natively. Each chunk
# page is then drawn onto its stub as a form XObject with pypdf (no resource renaming needed,
# the stub page object is kept, so every link and bookmark stays valid). If an entity ever needs
# more than one page, the report falls back to a single document.

#: Chunk pages carry no margin boxes: the stub page they are drawn onto has them.
_CHUNK_CSS = (
    "@page { @top-left { content: none; } @top-right { content: none; } "
    "@bottom-left { content: none; } @bottom-right { content: none; } }"
)


def _chunk_worker(html: str, anchors: list[str]) -> tuple[bytes, list[int]]:
    """Render one chunk; returns the PDF and the page index of each entity's anchor."""
    fetcher = BundledOnlyFetcher()
    document = _render_document(html, fetcher, _CHUNK_CSS)
    starts = _anchor_pages(document, anchors)
    if len(document.pages) != len(anchors):
        starts = [-1] * len(anchors)  # an entity overflowed: the caller falls back
    return document.write_pdf(), starts


def _anchor_pages(document: Any, anchors: Sequence[str]) -> list[int]:
    where: dict[str, int] = {}
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            where.setdefault(name, index)
    return [where.get(a, -1) for a in anchors]


def _one_page_each(starts: Sequence[int], total: int) -> bool:
    """The stubs are consecutive single pages that end the overview."""
    if not starts:
        return True
    return list(starts) == list(range(starts[0], starts[0] + len(starts))) and starts[-1] == total - 1


def _dict(value: Any) -> Any:
    """The dictionary behind a (possibly indirect) PDF object."""
    return value.get_object()


def _overlay_pages(overview: bytes, stub_start: int, chunks: Sequence[bytes], path: Path) -> None:
    """Draw every chunk page onto its stub page (as a form XObject) and write the result."""

    def stream(data: bytes) -> Any:
        obj = DecodedStreamObject()
        obj.set_data(data)
        return writer._add_object(obj)

    writer = PdfWriter(clone_from=io.BytesIO(overview))
    save, restore = stream(b"q\n"), stream(b"\nQ\n")
    index = stub_start
    for data in chunks:
        for source in PdfReader(io.BytesIO(data)).pages:
            target = writer.pages[index]
            raw = source.raw_get("/Contents").get_object() if "/Contents" in source else None
            if isinstance(raw, StreamObject):
                # WeasyPrint writes one compressed stream per page: reuse it as is (no re-encoding).
                form = raw.clone(writer)
            else:
                contents = source.get_contents()
                decoded = DecodedStreamObject()
                decoded.set_data(contents.get_data() if contents is not None else b"")
                form = decoded.flate_encode()
            form.update(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Form"),
                    NameObject("/BBox"): ArrayObject(source.mediabox),
                    # /P and /Parent would drag the chunk's page tree along.
                    NameObject("/Resources"): _dict(source["/Resources"]).clone(
                        writer, ignore_fields=("/P", "/Parent")
                    ),
                }
            )
            name = NameObject(f"/AuditEntity{index}")
            # WeasyPrint shares one resources dictionary between pages: give each stub its own.
            resources = DictionaryObject(_dict(target["/Resources"]))
            xobjects = (
                DictionaryObject(_dict(resources["/XObject"]))
                if "/XObject" in resources
                else DictionaryObject()
            )
            ref = form.indirect_reference  # set when clone() registered the stream in the writer
            xobjects[name] = ref if ref is not None and ref.pdf is writer else writer._add_object(form)
            resources[NameObject("/XObject")] = xobjects
            target[NameObject("/Resources")] = resources
            # The stub's own drawing (header, footer) is wrapped in q/Q so its graphics state
            # (WeasyPrint flips the y axis) cannot leak into the entity page drawn after it.
            own = target.raw_get("/Contents") if "/Contents" in target else None
            own_list = (
                list(own.get_object())
                if own is not None and isinstance(own.get_object(), ArrayObject)
                else ([own] if own is not None else [])
            )
            target[NameObject("/Contents")] = ArrayObject(
                [save, *own_list, restore, stream(f"{name} Do\n".encode())]
            )
            if "/Annots" in source:  # the ticket links
                annots = cast(ArrayObject, source["/Annots"].get_object()).clone(
                    writer, ignore_fields=("/P", "/Parent")
                )
                existing = (
                    cast(ArrayObject, target["/Annots"].get_object())
                    if "/Annots" in target
                    else ArrayObject()
                )
                target[NameObject("/Annots")] = ArrayObject([*existing, *annots])
            index += 1
    with path.open("wb") as handle:
        writer.write(handle)


def _write_parallel(
    ctx: dict[str, Any],
    path: Path,
    fetcher: BundledOnlyFetcher,
    jobs: int,
    keep_chunks: list[tuple[bytes, list[dict[str, Any]]]] | None = None,
) -> bool:
    """Parallel rendering; returns False (nothing written) when an entity did not fit one page.

    ``keep_chunks`` receives each chunk's PDF (one page per entity, no margin boxes) with its
    entity pages, for the private scorecards to reuse instead of laying the pages out again.
    """

    entity_pages = ctx["entity_pages"]
    anchors = [p["anchor"] for p in entity_pages]
    template = _environment().get_template(TEMPLATE)
    n_chunks = min(len(entity_pages), jobs * 3)  # a few chunks per worker balance uneven pages
    bounds = [round(i * len(entity_pages) / n_chunks) for i in range(n_chunks + 1)]
    # spawn, not fork: the parent holds Pango/GLib state that is not fork-safe.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures: list[tuple[int, int, Future[tuple[bytes, list[int]]]]] = []
        for lo, hi in itertools.pairwise(bounds):
            html = template.render(**{**ctx, "mode": "chunk", "entity_pages": entity_pages[lo:hi]})
            futures.append((lo, hi, pool.submit(_chunk_worker, html, anchors[lo:hi])))
        # The parent lays out and writes the overview while the workers render the entities.
        overview = _render_document(template.render(**{**ctx, "mode": "overview"}), fetcher)
        stub_starts = _anchor_pages(overview, anchors)
        if not _one_page_each(stub_starts, len(overview.pages)):
            return False
        overview_pdf = overview.write_pdf()
        del overview
        chunks: list[bytes] = []
        with progress_bar(len(entity_pages), "render scorecards.pdf", "pages") as bar:
            for lo, hi, future in futures:
                data, starts = future.result()
                if starts != list(range(hi - lo)):
                    return False
                chunks.append(data)
                bar.update(hi - lo)
    _overlay_pages(overview_pdf, stub_starts[0], chunks, path)
    if keep_chunks is not None:
        keep_chunks.extend(
            (data, entity_pages[lo:hi]) for data, (lo, hi, _) in zip(chunks, futures, strict=True)
        )
    return True


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
    ``keep_chunks``: see :func:`_write_parallel` (left empty when one document is rendered).
    """
    fetcher = fetcher or BundledOnlyFetcher()
    ctx = dict(context) if context is not None else report_context(summary, findings, config, gate=gate)
    workers = default_jobs() if jobs is None else jobs
    if workers > 1 and len(ctx["entity_pages"]) >= parallel_min:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if _write_parallel(ctx, path, fetcher, workers, keep_chunks):
                return path
            log.warning("an entity page overflowed one page: rendering the report as a single document")
        except OSError as exc:
            raise RenderError(f"cannot write {path}: {exc}") from exc
        except Exception as exc:
            raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    return html_to_pdf(render_report_html(summary, findings, config, context=ctx), path, fetcher=fetcher)
