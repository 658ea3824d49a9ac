"""``scorecards.pdf`` in worker processes: entity pages rendered in chunks, drawn onto the overview.

WeasyPrint lays a document out on one core; the 300-technician report is ~350 pages. In parallel
mode, worker processes render the entity pages in chunks (body only, no page header/footer)
from the start, while the main process renders the overview with one *stub* page per entity:
the stub carries the entity's anchor, bookmark, running header and "Page X of Y" footer, so the
TOC's target-counter, the heat-map links and the bookmarks all resolve natively. Each chunk
page is then drawn onto its stub as a form XObject with pypdf (no resource renaming needed,
the stub page object is kept, so every link and bookmark stays valid). If an entity ever needs
more than one page, the report falls back to a single document.
"""

from __future__ import annotations

import io
import itertools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast

from jinja2 import Template
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, StreamObject

from audit.core.progress import progress_bar
from audit.render.weasy import BundledOnlyFetcher, anchor_pages, render_document

__all__ = ["write_parallel"]


#: Chunk pages carry no margin boxes: the stub page they are drawn onto has them.
_CHUNK_CSS = (
    "@page { @top-left { content: none; } @top-right { content: none; } "
    "@bottom-left { content: none; } @bottom-right { content: none; } }"
)


def _chunk_worker(html: str, anchors: list[str]) -> tuple[bytes, list[int]]:
    """Render one chunk; returns the PDF and the page index of each entity's anchor."""
    fetcher = BundledOnlyFetcher()
    document = render_document(html, fetcher, _CHUNK_CSS)
    starts = anchor_pages(document, anchors)
    if len(document.pages) != len(anchors):
        starts = [-1] * len(anchors)  # an entity overflowed: the caller falls back
    return document.write_pdf(), starts


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


def write_parallel(
    template: Template,
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
    n_chunks = min(len(entity_pages), jobs * 3)  # a few chunks per worker balance uneven pages
    bounds = [round(i * len(entity_pages) / n_chunks) for i in range(n_chunks + 1)]
    # spawn, not fork: the parent holds Pango/GLib state that is not fork-safe.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures: list[tuple[int, int, Future[tuple[bytes, list[int]]]]] = []
        for lo, hi in itertools.pairwise(bounds):
            html = template.render(**{**ctx, "mode": "chunk", "entity_pages": entity_pages[lo:hi]})
            futures.append((lo, hi, pool.submit(_chunk_worker, html, anchors[lo:hi])))
        # The parent lays out and writes the overview while the workers render the entities.
        overview = render_document(template.render(**{**ctx, "mode": "overview"}), fetcher)
        stub_starts = anchor_pages(overview, anchors)
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
