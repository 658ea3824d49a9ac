"""The report as a manager and a team receive it, through the installed CLI on the demo's store:
an honest cover on a breached gate, private scorecards (files and mail, aiosmtpd on loopback),
the chat headline (a local HTTP server standing in for Slack and Teams) and scorecards.html."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from audit.core.config import Config
from audit.render.bands import Limits
from audit.render.notify import post_headline
from tests.e2e_support import AS_OF, closed_port_url, ticket_audit
from tests.render.test_render_mail import Sink, free_port
from tests.render.test_render_pdf import page_texts

THRESHOLDS = {"overall": 99.5, "technician": 99.0, "ticket_compliance": 80.0}


@dataclass
class Hook:
    """A local stand-in for an incoming webhook: records each JSON body, answers ``status``."""

    url: str
    posts: list[Any]
    status: int = 200
    body: bytes = b"ok"


@pytest.fixture(scope="module")
def hook() -> Iterator[Hook]:
    posts: list[Any] = []
    state = Hook("", posts)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            posts.append(
                {
                    "path": self.path,
                    "type": self.headers.get("Content-Type"),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    try:
        yield state
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def delivered(demo_output: Any, hook: Hook, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One breached `run --no-extract --per-technician --mail-each --notify` on a copy of the demo store."""
    where = tmp_path_factory.mktemp("delivered")
    store = shutil.copytree(demo_output.out / "store", where / "store")
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    config = where / "audit.toml"
    config.write_text(
        "[thresholds]\n"
        + "".join(f"{k} = {v}\n" for k, v in THRESHOLDS.items())
        + f'[mail]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\n',
        encoding="utf-8",
    )
    try:
        proc = ticket_audit(
            "run",
            "--no-extract",
            "--store",
            store,
            "--as-of",
            AS_OF,
            "--out",
            where / "out",
            "--config",
            config,
            "--per-technician",
            "--mail-each",
            "--mail-to",
            "lead@example.com",
            "--notify",
            hook.url,
            "--notify-format",
            "slack",
            cwd=where,
        )
    finally:
        controller.stop()
    summary = json.loads((where / "out" / "summary.json").read_text(encoding="utf-8"))
    gate = json.loads((where / "out" / "gate.json").read_text(encoding="utf-8"))
    return {
        "proc": proc,
        "out": where / "out",
        "summary": summary,
        "gate": gate,
        "mail": sink.messages,
        "posts": list(hook.posts),
    }


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_cover_of_a_breached_run_says_so(delivered: dict[str, Any]) -> None:
    assert delivered["proc"].returncode == 1, delivered["proc"].stderr
    cover = _flat(page_texts(delivered["out"] / "scorecards.pdf")[0])
    breached = [r for r in delivered["gate"]["results"] if not r["passed"]]
    assert breached and "breached" in cover.lower()
    assert f"{len(breached)} of {len(delivered['gate']['results'])} thresholds missed" in cover
    shown = breached[:12]  # the cover lists a dozen; the rest are counted
    for result in shown:
        what = {"overall": "Overall score", "ticket_compliance": "Ticket compliance %"}.get(
            result["kind"], f"Technician {result['key']}"
        )
        assert f"{what} {result['score']:.1f} {result['threshold']:g}" in cover, what
    if len(breached) > 12:
        assert f"and {len(breached) - 12} more" in cover
    summary = delivered["summary"]
    assert f"{summary['ticket_compliance']['rate']:.1f} %" in cover


def test_no_technician_under_their_threshold_shows_as_passing(delivered: dict[str, Any]) -> None:
    texts = page_texts(delivered["out"] / "scorecards.pdf")
    heat = _flat(next(t for t in texts if "Technicians × steps" in t and "Name Overall" in _flat(t)))
    people = [t for t in delivered["summary"]["technicians"] if not t.get("unassigned")]
    below = [
        t
        for t in people
        if t["score"] is not None and t["score"] < THRESHOLDS["technician"] and not t["low_sample"]
    ]
    assert below and len(below) < len(people), "the thresholds should breach some technicians, not all"
    for tech in people:
        row = re.search(re.escape(tech["name"]) + r" (\S+) " + re.escape(f"{tech['score']:.1f}"), heat)
        assert row is not None, tech["name"]
        page = _flat(
            next(
                t
                for t in texts
                if re.search(rf"Technician\s+{re.escape(tech['name'])}\s", t) and "Score by step" in t
            )
        )
        own = re.search(
            r"(\S+) " + re.escape(f"{tech['score']:.1f} threshold {THRESHOLDS['technician']:g}"), page
        )
        assert own is not None, tech["name"]
        if tech in below:  # the breach mark, never the passing one, in the heat map and on their page
            assert row.group(1) == own.group(1) == "▼", (tech["name"], tech["score"])
        else:
            assert "▼" not in (row.group(1), own.group(1)), (tech["name"], tech["score"])


def test_cover_marks_ticket_compliance_under_its_threshold(delivered: dict[str, Any]) -> None:
    rate = delivered["summary"]["ticket_compliance"]["rate"]
    assert rate < THRESHOLDS["ticket_compliance"], "the fixture should breach ticket compliance"
    cover = _flat(page_texts(delivered["out"] / "scorecards.pdf")[0])
    assert f"▼ {rate:.1f} % tickets OK" in cover, cover


def test_rows_the_gate_never_checks_carry_no_threshold_verdict(delivered: dict[str, Any]) -> None:
    """Tickets without a technician or queue are not gated, so no ▼ against a threshold either."""
    summary, texts = delivered["summary"], page_texts(delivered["out"] / "scorecards.pdf")
    (nobody,) = [t for t in summary["technicians"] if t.get("unassigned")]
    assert nobody["score"] < THRESHOLDS["technician"], "fixture too weak: the row would pass anyway"
    gated = {(r["kind"], r["key"]) for r in delivered["gate"]["results"]}
    assert ("technician", nobody["name"]) not in gated
    # Banded like an ungated score (the report's default bands), which pass this one.
    default = Limits(None, Config().report.band_good, Config().report.band_warn).glyph(nobody["score"])
    assert default != "▼", "fixture too weak: the default bands would fail the row too"
    # pypdf reads ✓ in some font subsets as other characters, so the test asserts on ▼ only.
    heat = _flat(next(t for t in texts if "Technicians × steps" in t and "Name Overall" in _flat(t)))
    row = re.search(
        re.escape(f"{nobody['name']} (no technician)") + r" (\S+) " + re.escape(f"{nobody['score']:.1f}"),
        heat,
    )
    assert row is not None and row.group(1) != "▼", heat
    page = _flat(next(t for t in texts if "Unassigned tickets" in t and "Score by step" in t))
    head = page.split("Score by step")[0]
    assert f"{nobody['score']:.1f}" in head and "▼" not in head, head
    assert "threshold" not in head.replace("no technician threshold applies", ""), head
    (no_queue,) = [q for q in summary["queues"] if q.get("unassigned")]
    page = _flat(
        next(
            t
            for t in texts
            if re.search(rf"Queue\s+{re.escape(no_queue['name'])}\s", t) and "Score by step" in t
        )
    )
    assert "no queue threshold applies to this row" in page


def test_rules_table_headers_stay_whole_words(delivered: dict[str, Any]) -> None:
    page = _flat(
        next(t for t in page_texts(delivered["out"] / "scorecards.pdf") if "Ranked by the score points" in t)
    )
    assert "Rule Title Step Severity Points lost Failed Waived Checks Score" in page, page[:400]


def test_private_scorecards_hold_one_technician_each(delivered: dict[str, Any]) -> None:
    folder = delivered["out"] / "technicians"
    people = [t for t in delivered["summary"]["technicians"] if not t.get("unassigned")]
    files = sorted(folder.glob("*.pdf"))
    assert len(files) == len(people)
    for tech in people:
        (path,) = [f for f in files if f.name.startswith(f"{tech['key']}-")]
        text = _flat(" ".join(page_texts(path)))
        assert tech["name"] in text and "Team median" in text and f"{tech['score']:.1f}" in text
        others = [o["name"] for o in people if o["key"] != tech["key"] and o["name"] not in tech["name"]]
        leaked = [name for name in others if name in text]
        assert not leaked, (path.name, leaked)
        assert "Technicians × steps" not in text and "Contents" not in text


def test_each_technician_is_mailed_their_own_file_and_the_lead_the_report(delivered: dict[str, Any]) -> None:
    by_rcpt = {tuple(rcpts): message for rcpts, message in delivered["mail"]}
    lead = by_rcpt.pop(("lead@example.com",))
    assert [p.get_filename() for p in _attachments(lead)] == ["scorecards.pdf"]
    people = [t for t in delivered["summary"]["technicians"] if not t.get("unassigned")]
    assert len(by_rcpt) == len(people)
    for (address,), message in by_rcpt.items():
        (attachment,) = _attachments(message)
        key = attachment.get_filename().split("-", 1)[0]
        tech = next(t for t in people if t["key"] == key)
        assert address.endswith("@sandbox-msp.example")
        body = (
            next(p for p in message.walk() if p.get_content_type() == "text/plain")
            .get_payload(decode=True)
            .decode()
        )
        assert tech["name"] in body
        assert not [o["name"] for o in people if o["key"] != key and o["name"] in body]


def _attachments(message: Any) -> list[Any]:
    return [part for part in message.walk() if part.get_filename()]


def test_slack_headline_posted_in_slacks_format(delivered: dict[str, Any]) -> None:
    (post,) = delivered["posts"]
    assert post["type"].startswith("application/json") and post["path"].endswith("/secret-token")
    payload = post["json"]
    summary = delivered["summary"]
    assert f"score {summary['score']:.1f}" in payload["text"] and "BREACHED" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"
    text = json.dumps(payload["blocks"], ensure_ascii=False)
    assert f"{summary['ticket_compliance']['rate']:.1f} %" in text
    # Most points lost first; ties: more failures, then the rule id.
    ranked = sorted((-r["cost"], -r["failed"], rid) for rid, r in summary["rules"].items() if r["failed"])[:3]
    for *_, rid in ranked:
        assert rid in text
    assert secret_free(delivered["proc"].stdout + delivered["proc"].stderr)


def secret_free(text: str) -> bool:
    return "secret-token" not in text


def test_teams_headline_in_teams_format_and_a_failed_post_is_a_warning(
    delivered: dict[str, Any], hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.posts.clear()
    assert post_headline(hook.url, delivered["summary"], fmt="teams") is None
    (post,) = hook.posts
    payload = post["json"]
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"]
    facts = {
        f["title"]: f["value"] for block in card["body"] if block["type"] == "FactSet" for f in block["facts"]
    }
    assert facts["Score"].startswith(f"{delivered['summary']['score']:.1f}")
    assert "tickets broke no rule" in facts["Tickets OK"] and facts["Gate"] == "no thresholds configured"
    hook.status, hook.body = 500, b"boom"
    try:
        warning = post_headline(hook.url, delivered["summary"], fmt="teams")
    finally:
        hook.status, hook.body = 200, b"ok"
    assert warning is not None and "HTTP 500" in warning and "secret-token" not in warning
    # Teams connectors answer 200 with the throttling in the body.
    hook.body = b"Microsoft Teams endpoint returned HTTP error 429"
    try:
        assert "rate-limited" in (post_headline(hook.url, delivered["summary"], fmt="teams") or "")
    finally:
        hook.body = b"ok"


def test_a_failed_post_never_fails_the_audit(demo_output: Any, tmp_path: Path) -> None:
    # The webhook from the environment, on a port nobody listens on.
    proc = ticket_audit(
        "report",
        "--store",
        demo_output.out / "store",
        "--as-of",
        AS_OF,
        "--out",
        tmp_path / "out",
        "--notify-format",
        "slack",
        cwd=tmp_path,
        env={"TICKET_AUDIT_WEBHOOK": closed_port_url().replace("/ATServicesRest/", "/hooks/x")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "could not post the headline" in proc.stderr
    assert (tmp_path / "out" / "scorecards.pdf").stat().st_size > 0


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.style if self._in_style else self.text).append(data)


def test_scorecards_html_is_self_contained(delivered: dict[str, Any]) -> None:
    html = (delivered["out"] / "scorecards.html").read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(html)
    parser.close()
    tags = {tag for tag, _ in parser.tags}
    assert {"html", "body", "table", "svg", "style"} <= tags
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    for tag, attrs in parser.tags:
        for name, value in attrs:
            if name.startswith("xmlns"):  # namespace names identify, they are never fetched
                continue
            assert "://" not in (value or ""), (tag, name, value)
    style = "".join(parser.style)
    assert "url(" not in style and "@import" not in style
    text = _flat(" ".join(parser.text))
    summary = delivered["summary"]
    for entity in summary["technicians"] + summary["queues"]:
        assert entity["name"] in text, entity["name"]
    assert "breached" in text.lower()


def test_private_scorecards_reuse_the_reports_pages_when_rendered_in_parallel(
    tmp_path: Path, summary: Any, findings: Any, config: Any
) -> None:
    from audit.render.pdf import write_pdf
    from audit.render.private_pdf import write_private_pdfs

    chunks: list[Any] = []
    write_pdf(
        summary, findings, tmp_path / "scorecards.pdf", config, jobs=2, parallel_min=1, keep_chunks=chunks
    )
    assert chunks, "the parallel path keeps its entity pages"
    files = write_private_pdfs(summary, findings, tmp_path, config, rendered=chunks)
    people = [t for t in summary["technicians"] if not t.get("unassigned")]
    assert sorted(files) == sorted(t["key"] for t in people)
    for tech in people:
        texts = page_texts(files[tech["key"]])
        assert len(texts) == 1
        text = _flat(texts[0])
        assert tech["name"] in text and f"{tech['score']:.1f}" in text and "Team median" in text
        assert not [o["name"] for o in people if o["key"] != tech["key"] and o["name"] in text]
