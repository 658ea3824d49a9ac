"""``scorecards.html``: the manager report as one self-contained HTML file, for CI artifacts and
browsers.

The same template and context as ``scorecards.pdf`` (cover with the gate, heat maps, rules, trends,
one section per technician and queue), with the bundled stylesheet inlined and the charts as
inline SVG. Nothing in the file makes a browser fetch anything: no script, no external stylesheet,
font or image — and ticket numbers stay plain text (the PDF links them to Autotask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from audit.core.config import Config
from audit.render.pdf import render_report_html, report_context
from audit.render.weasy import STYLESHEET, load_template

__all__ = ["write_html"]


def write_html(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    path: Path,
    config: Config,
    *,
    gate: Sequence[Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Path:
    ctx = dict(context if context is not None else report_context(summary, findings, config, gate=gate))
    # The bundled stylesheet is ours, not tenant data: the one text marked safe here.
    css = Markup(load_template(STYLESHEET) or "")
    html = render_report_html(summary, findings, config, context=ctx, inline_css=css, ticket_links=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
