"""Doctor check of the PDF engine: WeasyPrint imports (Pango/Cairo present) and the report's font."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from audit.app.checks.result import CheckResult, fail, ok, warn


def _fonts(run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> tuple[int, bool] | None:
    """(font families, DejaVu Sans present) from fontconfig, or None without fc-list."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = run([fc_list, ":", "family"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families = {f.strip() for line in out.splitlines() for f in line.split(",") if f.strip()}
    return len(families), any(f.lower() == "dejavu sans" for f in families)


def check_pdf() -> CheckResult:
    try:
        import weasyprint
    except Exception as exc:  # ImportError, or OSError when pango/cairo libraries are missing
        return fail(
            "pdf",
            f"WeasyPrint cannot be imported: {type(exc).__name__}: {exc}",
            "install WeasyPrint's system libraries (pango, harfbuzz, fontconfig)",
        )
    try:
        # Rendered to bytes in memory (no target path): nothing is written.
        pdf = weasyprint.HTML(
            string="<html><body><p style='font-family: \"DejaVu Sans\", sans-serif'>ticket-audit ✓</p></body></html>"
        ).write_pdf()
    except Exception as exc:
        return fail(
            "pdf",
            f"WeasyPrint failed to render a test page: {type(exc).__name__}: {exc}",
            "check WeasyPrint's system libraries (pango, cairo, fontconfig)",
        )
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF"):
        return fail("pdf", "WeasyPrint rendered something that is not a PDF")
    version = getattr(weasyprint, "__version__", "?")
    fonts = _fonts()
    if fonts is None:
        return ok(
            "pdf", f"WeasyPrint {version} renders ({len(pdf)} bytes); fc-list not found, fonts not listed"
        )
    count, dejavu = fonts
    if count == 0:
        return warn(
            "pdf",
            f"WeasyPrint {version} renders but fontconfig lists no fonts: text will be missing",
            "install a font package (e.g. fonts-dejavu-core)",
        )
    if not dejavu:
        return warn(
            "pdf",
            f"WeasyPrint {version} renders; {count} font families, but not DejaVu Sans "
            "(the report's font): another sans-serif is used",
            "install fonts-dejavu-core",
        )
    return ok("pdf", f"WeasyPrint {version} renders a test page; {count} font families incl. DejaVu Sans")
