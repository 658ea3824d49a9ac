"""The emulator over real HTTP: a loopback ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive.

Kept apart from the handler so the handler stays a pure function of the request; everything
here is socket plumbing: reading bodies, writing answers in one go, and breaking connections
for the ``drop`` fault (no response at all, or headers and half the body).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.sandbox.emulator import Emulator

__all__ = ["SandboxServer", "serve_http"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's pooled connection serves every page
    disable_nagle_algorithm = True  # small header writes must not wait for an ACK
    timeout = 60  # idle keep-alive connections end on their own
    server: _Server

    def _serve(self) -> None:
        body = self._read_body()
        host, port = self.server.server_address[:2]
        url = f"http://{_host_for_url(str(host))}:{port}{self.path}"
        response = self.server.emulator.handle(self.command, url, dict(self.headers.items()), body)
        if response.drop == "before":
            self._abort()
            return
        payload = response.body
        if response.drop == "mid":
            payload = payload[: max(1, len(payload) // 2)]
        head = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}\r\n"]
        headers = {**response.headers, "Content-Length": str(len(response.body))}
        if response.drop != "mid":
            headers["Content-Length"] = str(len(payload))
        for key, value in headers.items():
            head.append(f"{key}: {value}\r\n")
        head.append("\r\n")
        # One write for head and body: a single segment per page on loopback.
        try:
            self.wfile.write("".join(head).encode("latin-1") + payload)
            self.wfile.flush()
        except OSError:  # the client went away (timed out, dropped): nothing left to answer
            self.close_connection = True
            return
        self.log_request(response.status)
        if response.drop == "mid":
            self._abort()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # A streaming client sends chunks; unread bytes would corrupt the keep-alive stream.
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the emulator keeps its own stats; stderr noise would drown test output

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections a client breaks are normal here (timeouts, fault tests); stay quiet.
        return

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        """End idle keep-alive connections so handler threads exit with the server."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SandboxServer:
    """A running loopback server. ``zone_url`` is what ``AUTOTASK_ZONE_URL`` should hold."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self._server = _Server((host, port), emulator)
        self.host = host
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://{_host_for_url(host)}:{self.port}/"
        self.zone_url = self.base_url + "ATServicesRest/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def discovery_url(self) -> str:
        """What ``AUTOTASK_DISCOVERY_URL`` should hold to exercise zone discovery."""
        return self.base_url

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def serve_http(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
    """Serve ``emulator`` over HTTP on ``host:port`` (0 = any free port) until the block ends."""
    server = SandboxServer(emulator, host, port)
    try:
        yield server
    finally:
        server.close()
