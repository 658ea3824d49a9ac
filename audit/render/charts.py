"""Trend charts for the reports: matplotlib line charts as deterministic inline SVG."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
from markupsafe import Markup

__all__ = ["trend_svg"]


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
