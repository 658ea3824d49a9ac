"""A real SMTP server (aiosmtpd) on loopback for the mail tests: plain, STARTTLS or implicit TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["PASSWORD", "USER", "Sink", "free_port", "needs_openssl", "smtp_server", "tls_contexts"]

USER = "audit"
PASSWORD = "s3cret-smtp-pass"

needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl CLI for a certificate"
)


class Sink:
    """Collects delivered messages and every AUTH attempt (and whether it came over TLS)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.auth_attempts: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook name
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        # STARTTLS sets session.ssl; implicit TLS shows on the transport.
        self.auth_attempts.append(
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        )
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tls_contexts(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a self-signed 127.0.0.1 certificate."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@contextmanager
def smtp_server(**options: Any) -> Iterator[tuple[Sink, int]]:
    """A server on a free loopback port; ``options`` go to aiosmtpd's Controller (TLS, AUTH)."""
    sink = Sink()
    port = free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticator, **options
    )
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
