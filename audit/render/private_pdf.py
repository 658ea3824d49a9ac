"""``technicians/<id>-<name>.pdf``: one private scorecard per technician.

Each file holds that technician's page of the manager report (same template: score, steps with
the team's median per step, the rules that cost them most, their worst tickets, their trend) and
nothing about anyone else — no other technician's name or score, no heat map, no contents.

All pages are laid out as one document (in worker processes, in chunks, like the manager
report's entity pages) and split into one file per technician with pypdf: one WeasyPrint
document per technician would pay the stylesheet and font set-up 300 times.
"""

from __future__ import annotations

import io
import itertools
import logging
import multiprocessing
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from pypdf import PdfReader, PdfWriter

from audit.core.config import Config
from audit.core.errors import RenderError
from audit.core.progress import progress_bar
from audit.render.pdf import default_jobs, report_context, template_environment
from audit.render.weasy import TEMPLATE, BundledOnlyFetcher, anchor_pages, render_document

__all__ = ["PRIVATE_DIR", "private_file_name", "write_private_pdfs"]

log = logging.getLogger(__name__)

#: The folder of the private scorecards, inside ``--out``.
PRIVATE_DIR = "technicians"
#: Below this many technicians one process is faster than starting workers.
_PARALLEL_MIN = 40

#: Margin boxes of a private page: no "Page X of Y" of a document the reader never sees whole.
_PRIVATE_CSS = (
    '@page { @top-right { content: "Private scorecard · " string(entity); } '
    '@bottom-right { content: "For the named technician only"; } }'
)


def private_file_name(entity: Mapping[str, Any]) -> str:
    """``<id>-<name>.pdf``: letters, digits, ``.``, ``_`` and ``-`` of the name (no path
    separators or control characters from tenant data), at most 60 characters of it."""
    name = re.sub(r"[^\w.-]+", "-", str(entity.get("name") or ""), flags=re.UNICODE).strip("-.")[:60]
    return f"{entity['key']}-{name or 'technician'}.pdf"


def _worker(html: str, anchors: list[str]) -> tuple[bytes, list[int]]:
    """Render one chunk of private pages; the PDF and the first page of each technician."""
    document = render_document(html, BundledOnlyFetcher(), _PRIVATE_CSS)
    return document.write_pdf(), anchor_pages(document, anchors)


def _split(
    data: bytes, starts: Sequence[int], names: Sequence[str], folder: Path, *, one_page: bool = False
) -> None:
    """Write pages ``starts[i]`` up to the next start (``one_page``: that page only) into
    ``folder / names[i]``."""

    reader = PdfReader(io.BytesIO(data))
    ends = [s + 1 for s in starts] if one_page else [*starts[1:], len(reader.pages)]
    for start, end, name in zip(starts, ends, names, strict=True):
        if start < 0:
            raise RenderError(f"private scorecard {name}: its page was not found in the rendered document")
        writer = PdfWriter()
        for index in range(start, end):
            writer.add_page(reader.pages[index])
        writer.add_metadata({"/Title": f"Private scorecard {Path(name).stem}", "/Creator": "ticket-audit"})
        with (folder / name).open("wb") as handle:
            writer.write(handle)


def write_private_pdfs(
    summary: Mapping[str, Any],
    findings: pd.DataFrame,
    folder: Path,
    config: Config,
    *,
    gate: Sequence[Any] | None = None,
    jobs: int | None = None,
    context: Mapping[str, Any] | None = None,
    rendered: Sequence[tuple[bytes, Sequence[Mapping[str, Any]]]] = (),
) -> dict[str, Path]:
    """Write one PDF per technician (not the Unassigned row) into ``folder`` (created).

    ``rendered``: the manager report's entity pages already laid out (``write_pdf``'s
    ``keep_chunks``: one page per entity); each technician's page is then copied out of them
    rather than laid out again. The render pipeline writes the folder in its staging area and
    swaps it in whole, so it never mixes this run's files with a previous run's. Returns
    technician key -> path.
    """
    ctx = dict(context if context is not None else report_context(summary, findings, config, gate=gate))
    pages = [p for p in ctx["technician_pages"] if not p["unassigned"]]
    folder.mkdir(parents=True, exist_ok=True)
    names = [private_file_name(p["entity"]) for p in pages]
    try:
        if rendered:
            _copy_from(rendered, folder)
        elif pages:
            _render_into(ctx, pages, names, folder, default_jobs() if jobs is None else jobs)
    except OSError as exc:
        raise RenderError(f"cannot write {folder}: {exc}") from exc
    return {p["entity"]["key"]: folder / n for p, n in zip(pages, names, strict=True)}


def _copy_from(rendered: Sequence[tuple[bytes, Sequence[Mapping[str, Any]]]], folder: Path) -> None:
    """Each technician's page of the already rendered chunks (page i is ``pages[i]``) to its file."""
    for data, pages in rendered:
        starts, names = [], []
        for index, page in enumerate(pages):
            if page["kind"] == "technician" and not page["unassigned"]:
                starts.append(index)
                names.append(private_file_name(page["entity"]))
        _split(data, starts, names, folder, one_page=True)


def _render_into(
    ctx: dict[str, Any], pages: list[dict[str, Any]], names: list[str], folder: Path, jobs: int
) -> None:
    template = template_environment().get_template(TEMPLATE)
    anchors = [p["anchor"] for p in pages]

    def html(lo: int, hi: int) -> str:
        # Only this chunk's technician pages: the document holds nobody else's data.
        return template.render(**{**ctx, "mode": "private", "entity_pages": pages[lo:hi]})

    if jobs <= 1 or len(pages) < _PARALLEL_MIN:
        data, starts = _worker(html(0, len(pages)), anchors)
        _split(data, starts, names, folder)
        return

    n_chunks = min(len(pages), jobs * 3)
    bounds = [round(i * len(pages) / n_chunks) for i in range(n_chunks + 1)]
    # spawn, not fork: the parent holds Pango/GLib state that is not fork-safe.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            (lo, hi, pool.submit(_worker, html(lo, hi), anchors[lo:hi]))
            for lo, hi in itertools.pairwise(bounds)
        ]
        with progress_bar(len(pages), "render technicians/", "pages") as bar:
            for lo, hi, future in futures:
                data, starts = future.result()
                _split(data, starts, names[lo:hi], folder)
                bar.update(hi - lo)
