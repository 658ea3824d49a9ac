"""The bundled report assets and WeasyPrint: templates, stylesheet, the bundled-only fetcher, HTML -> PDF.

Safety: WeasyPrint gets :class:`BundledOnlyFetcher`, which serves the bundled report assets
(the repo's ``reports/`` folder, shipped as ``audit.bundled_reports``) and refuses every other
URL, so nothing in a ticket can make the renderer open a connection or read a file.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from audit.core.errors import RenderError

__all__ = [
    "REPORTS_PACKAGE",
    "STYLESHEET",
    "TEMPLATE",
    "BundledOnlyFetcher",
    "anchor_pages",
    "html_to_pdf",
    "load_template",
    "render_document",
    "weasyprint",
]

log = logging.getLogger("audit.render.pdf")

REPORTS_PACKAGE = "audit.bundled_reports"
TEMPLATE = "report.html"
STYLESHEET = "report.css"


def weasyprint() -> ModuleType:
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


def load_template(name: str) -> str | None:
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
                return weasyprint().urls.URLFetcherResponse(
                    url, candidate.read_bytes(), {"Content-Type": mime}
                )
        self.refused.append(url)
        log.warning("report renderer refused to fetch %s (only bundled assets are allowed)", url[:200])
        raise ValueError(f"refused: only bundled report assets may be loaded, not {url[:200]!r}")

    def __call__(self, url: str) -> Any:
        return self.fetch(url)


def _stylesheets(fetcher: BundledOnlyFetcher, extra_css: str = "") -> list[Any]:
    sheets = [
        weasyprint().CSS(
            string=load_template(STYLESHEET) or "", base_url=fetcher.base_url, url_fetcher=fetcher
        )
    ]
    if extra_css:
        sheets.append(weasyprint().CSS(string=extra_css, base_url=fetcher.base_url, url_fetcher=fetcher))
    return sheets


def render_document(html: str, fetcher: BundledOnlyFetcher, extra_css: str = "") -> Any:
    return (
        weasyprint()
        .HTML(string=html, base_url=fetcher.base_url, url_fetcher=fetcher)
        .render(stylesheets=_stylesheets(fetcher, extra_css))
    )


def html_to_pdf(html: str, path: Path, *, fetcher: BundledOnlyFetcher | None = None) -> Path:
    """Render HTML to PDF with the bundled stylesheet and the bundled-only fetcher."""
    fetcher = fetcher or BundledOnlyFetcher()
    try:
        document = render_document(html, fetcher)
        path.parent.mkdir(parents=True, exist_ok=True)
        document.write_pdf(path)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc}") from exc
    except Exception as exc:  # WeasyPrint failures surface as a renderer error (exit 3)
        raise RenderError(f"PDF rendering failed: {type(exc).__name__}: {exc}") from exc
    return path


def anchor_pages(document: Any, anchors: Sequence[str]) -> list[int]:
    where: dict[str, int] = {}
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            where.setdefault(name, index)
    return [where.get(a, -1) for a in anchors]
