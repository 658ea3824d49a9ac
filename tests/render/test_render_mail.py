"""Mailing the report through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from audit.config import MailSettings
from audit.errors import ConfigError
from audit.render.mail import MailError, send_report

PASSWORD = "s3cret-smtp-pass"


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"audit" and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "scorecards.pdf"
    path.write_bytes(b"%PDF-1.7\n% test\n")
    return path


def test_delivery_with_login(smtp: tuple[Sink, int], pdf: Path) -> None:
    sink, port = smtp
    settings = MailSettings(host="127.0.0.1", port=port, user="audit", sender="audit@example.test")
    send_report(settings, ["manager@example.test", "qa@example.test"], [pdf], subject="Weekly", body="See PDF",
                environ={settings.password_env: PASSWORD}, timeout=10)
    assert len(sink.messages) == 1
    rcpts, message = sink.messages[0]
    assert rcpts == ["manager@example.test", "qa@example.test"]
    assert message["Subject"] == "Weekly" and message["From"] == "audit@example.test"
    parts = [p for p in message.walk() if p.get_filename() == "scorecards.pdf"]
    assert parts and parts[0].get_content_type() == "application/pdf"
    assert parts[0].get_payload(decode=True) == pdf.read_bytes()


def test_wrong_password_is_a_mail_error(smtp: tuple[Sink, int], pdf: Path) -> None:
    _, port = smtp
    settings = MailSettings(host="127.0.0.1", port=port, user="audit")
    with pytest.raises(MailError) as info:
        send_report(settings, ["m@example.test"], [pdf], subject="s", body="b",
                    environ={settings.password_env: "wrong"}, timeout=10)
    assert "wrong" not in str(info.value)


def test_missing_password_is_a_config_error(pdf: Path) -> None:
    settings = MailSettings(host="127.0.0.1", port=1, user="audit")
    with pytest.raises(ConfigError, match=settings.password_env):
        send_report(settings, ["m@example.test"], [pdf], subject="s", body="b", environ={})


def test_unreachable_server(pdf: Path) -> None:
    settings = MailSettings(host="127.0.0.1", port=free_port())
    with pytest.raises(MailError):
        send_report(settings, ["m@example.test"], [pdf], subject="s", body="b", environ={}, timeout=5)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a test certificate")
def test_starttls(tmp_path: Path, pdf: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                            authenticator=authenticator)
    controller.start()
    try:
        settings = MailSettings(host="127.0.0.1", port=port, starttls=True, user="audit")
        send_report(settings, ["m@example.test"], [pdf], subject="tls", body="b",
                    environ={settings.password_env: PASSWORD},
                    ssl_context=ssl.create_default_context(cafile=str(cert)), timeout=10)
    finally:
        controller.stop()
    assert [m["Subject"] for _, m in sink.messages] == ["tls"]
