"""The manager PDF: pages per technician and queue, scores as in summary.json, no fetching, escaping."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from audit.core.config import Config
from audit.render.charts import trend_svg
from audit.render.pdf import render_report_html, write_pdf
from audit.render.weasy import BundledOnlyFetcher, html_to_pdf
from audit.results.scoring import period_findings, score
from audit.results.summary import Summary
from audit.sandbox.synthetic import make_evaluation


def page_texts(path: Path) -> list[str]:
    # pypdf (7.1) decodes some of WeasyPrint's two-byte font encodings (a subset of more than 256
    # glyphs, e.g. ticket titles in many scripts) as UTF-16 code units with their NUL high bytes;
    # poppler's pdftotext reads the same pages right. The NULs are pypdf's, not the PDF's text.
    return [(page.extract_text() or "").replace("\x00", "") for page in PdfReader(path).pages]


def entity_page(texts: list[str], kind: str, name: str) -> str:
    pattern = re.compile(rf"^{kind}\s+{re.escape(name)}\s*$", re.IGNORECASE | re.MULTILINE)
    hits = [t for t in texts if pattern.search(t)]
    assert len(hits) == 1, f"{kind} {name}: {len(hits)} pages"
    return hits[0]


def check_report(path: Path, summary: Summary) -> None:
    texts = page_texts(path)
    assert f"{summary['score']:.1f}" in texts[0]
    assert summary["tenant"]["name"] in texts[0]
    for kind, entities in (("technician", summary["technicians"]), ("queue", summary["queues"])):
        for e in entities:
            if e.get("unassigned"):  # tickets without a technician: not titled like a person
                text = entity_page(texts, "no technician", "Unassigned tickets")
            else:
                text = entity_page(texts, kind, e["name"])
            head = text.split("Score by step")[0]
            assert f"{e['score']:.1f}" in head, (e["name"], head)
            assert f"{e['applicable']} checks" in head
            for cell in e["steps"].values():
                if cell["score"] is not None:
                    assert f"{cell['score']:.1f}" in text
    # Page numbers and the running header on every page but the cover.
    total = len(texts)
    for number, text in enumerate(texts[1:], start=2):
        assert f"Page {number} of {total}" in text
        assert summary["period"]["label"] in text


def test_pdf_pages_and_scores(outputs: dict[str, Path], summary: Summary) -> None:
    check_report(outputs["scorecards.pdf"], summary)


def test_pdf_toc_points_at_entity_pages(outputs: dict[str, Path], summary: Summary) -> None:
    texts = page_texts(outputs["scorecards.pdf"])
    toc = next(t for t in texts if t.lstrip().startswith("Contents"))
    name = summary["technicians"][0]["name"]
    number = int(re.search(rf"{re.escape(name)}[ .]*?(\d+)\s*$", toc, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert re.search(rf"^technician\s+{re.escape(name)}", texts[number - 1], re.IGNORECASE | re.MULTILINE)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_unassigned_is_not_presented_as_a_person(outputs: dict[str, Path], summary: Summary) -> None:
    assert any(t["unassigned"] for t in summary["technicians"]), (
        "fixture has no Unassigned row: test too weak"
    )
    texts = page_texts(outputs["scorecards.pdf"])
    assert not any(re.search(r"^technician\s+Unassigned", t, re.IGNORECASE | re.MULTILINE) for t in texts)
    page = entity_page(texts, "no technician", "Unassigned tickets")
    assert "charged to their queues" in _flat(page)
    heat = next(t for t in texts if "Technicians × steps" in t and "Overall" in t)
    assert "Unassigned (no technician)" in _flat(heat)  # the row stays in the heat map, marked
    toc = next(t for t in texts if t.lstrip().startswith("Contents"))
    technicians = toc.split("Technicians", 2)[-1].split("Queues")[0]
    assert not re.search(r"^Unassigned\b(?! tickets)", technicians, re.MULTILINE)
    assert "Unassigned tickets" in technicians


def test_precision_table_layout_and_wording(
    tmp_path: Path, summary: Summary, findings: pd.DataFrame, config: Config
) -> None:
    rules = sorted(summary["rules"])
    data = dict(summary)
    data["precision"] = {
        rules[0]: {"confirmed": 0, "false_positive": 1, "waived": 1, "reviewed": 1, "precision": 0.0},
        rules[1]: {"confirmed": 12, "false_positive": 3, "waived": 0, "reviewed": 15, "precision": 0.8},
    }
    html = render_report_html(data, findings, config)
    section = html.split('id="precision"')[1].split("</table>")[0]
    assert "<colgroup>" in section  # narrow numeric columns, the title takes the rest
    assert "<th>Confirmed + FP</th>" in section and "<th>Reviewed</th>" not in section
    assert "waived findings are" in html.split('id="precision"')[1].lower()
    text = _flat("\n".join(page_texts(write_pdf(data, findings, tmp_path / "p.pdf", config, jobs=1))))
    assert "Confirmed + FP" in text
    assert "Precision = confirmed / (confirmed + false positive)" in text
    for rid in rules[:2]:  # titles are not split mid-word by a squeezed column
        title = _flat(summary["rules"][rid]["title"])
        assert f"{rid} {title}" in text, title


def link_uris(path: Path) -> set[str]:
    return {
        str(annot.get_object()["/A"].get("/URI"))
        for page in PdfReader(path).pages
        for annot in page.get("/Annots", []) or []
        if annot.get_object().get("/A") is not None
    }


def test_ticket_links_and_escaped_text(outputs: dict[str, Path], findings: pd.DataFrame) -> None:
    assert link_uris(outputs["scorecards.pdf"]) & set(findings["ticket_url"])
    text = "\n".join(page_texts(outputs["scorecards.pdf"]))
    # The planted HTML is printed as text, not interpreted.
    assert "<script>alert(1)</script>" in text or "<b>bold</b>" in text


def test_parallel_rendering_matches(
    tmp_path: Path, summary: Summary, findings: pd.DataFrame, config: Config
) -> None:
    out = write_pdf(summary, findings, tmp_path / "parallel.pdf", config, jobs=2, parallel_min=1)
    check_report(out, summary)
    reader = PdfReader(out)
    overlaid = [
        p
        for p in reader.pages
        if any(str(k).startswith("/AuditEntity") for k in p["/Resources"].get_object().get("/XObject", {}))
    ]
    assert len(overlaid) == len(summary["technicians"]) + len(summary["queues"])  # no silent fallback
    assert len(reader.outline) >= 4  # bookmarks survive the overlay
    assert link_uris(out) & set(findings["ticket_url"])  # ticket links survive too
    # The heat map's links land on the technician pages.
    single = page_texts(write_pdf(summary, findings, tmp_path / "single.pdf", config, jobs=1))
    assert len(single) == len(reader.pages)


class RecordingServer:
    """A live TCP listener on loopback that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv = RecordingServer()
    yield srv
    srv.close()


def test_recording_server_records(server: RecordingServer) -> None:
    socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    for _ in range(50):
        if server.connections:
            break
        threading.Event().wait(0.02)
    assert server.connections == 1


def test_renderer_never_fetches(server: RecordingServer, tmp_path: Path, config: Config) -> None:
    url = f"http://127.0.0.1:{server.port}"
    # Raw HTML reaching WeasyPrint directly: img, stylesheet, CSS import, background, attachment.
    html = (
        f'<html><head><link rel="stylesheet" href="{url}/s.css"><link rel="attachment" href="{url}/a.bin">'
        f'<style>@import url("{url}/i.css"); body {{ background: url("{url}/bg.png") }}</style></head>'
        f'<body><img src="{url}/x.png"><img src="file:///etc/passwd"><p>hi</p></body></html>'
    )
    fetcher = BundledOnlyFetcher()
    html_to_pdf(html, tmp_path / "raw.pdf", fetcher=fetcher)
    assert any(u.startswith(url) for u in fetcher.refused)
    assert "file:///etc/passwd" in fetcher.refused
    # Ticket text carrying markup, through the whole report.
    ev = make_evaluation(
        seed=3,
        technicians=2,
        queues=1,
        messages={i: f'<img src="{url}/t{i}.png"> look' for i in range(40)},
        titles={0: f'<img src="{url}/title.png">'},
    )
    assert ev.period is not None
    s = score(ev, config, ev.period, as_of=ev.as_of)
    f = period_findings(ev, ev.period)
    out = write_pdf(s, f, tmp_path / "report.pdf", config, jobs=1)
    threading.Event().wait(0.3)
    assert server.connections == 0
    assert f'<img src="{url}/' in "\n".join(page_texts(out))


def test_trend_svg_is_deterministic() -> None:
    a = trend_svg(["2026-W46", "2026-W47"], {"Overall": [80.0, None]})
    b = trend_svg(["2026-W46", "2026-W47"], {"Overall": [80.0, None]})
    assert a == b and a.startswith("<svg") and "<dc:date>" not in a
