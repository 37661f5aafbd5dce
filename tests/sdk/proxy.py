"""A small reverse proxy in front of the real test server, for what the server cannot do on
demand: live under a path prefix, answer 500/503, or drop a connection.

It forwards ``/<prefix>/<path>`` to ``<server>/<path>`` (anything outside the prefix is a 404,
so an SDK that loses the prefix fails loudly) and consumes one queued fault per request.
Bodies are buffered: it is meant for small test requests only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a dropped connection is the point of the "drop" fault


class FaultProxy:
    """Faults: ``"503"``/``"500"``/``"502"`` answer that status, ``"drop"`` closes the
    connection without answering, ``"truncate"`` sends half the real answer's body and closes,
    ``"redirect"`` answers 301, ``"slow"`` answers 1.5 s late. Each queued fault applies to
    one request, in order."""

    def __init__(self, upstream: str, prefix: str = "/api/") -> None:
        self.upstream = upstream
        self.prefix = prefix
        self.faults: deque[str] = deque()
        self.requests: list[tuple[str, str]] = []
        self.ranges: list[str | None] = []  # the Range header of each request
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    def fail_next(self, *faults: str) -> None:
        with self._lock:
            self.faults.extend(faults)

    def _next_fault(self) -> str | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                    proxy.ranges.append(self.headers.get("range"))
                fault = proxy._next_fault()
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "slow":  # answer, but too late for a short client timeout
                    time.sleep(1.5)
                    fault = None
                if fault == "redirect":
                    self.send_response(301)
                    self.send_header("Location", "https://elsewhere.example/api/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault is not None and fault != "truncate":
                    payload = b'{"status": %s, "detail": "injected fault"}' % fault.encode()
                    self.send_response(int(fault))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if not self.path.startswith(proxy.prefix):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                target = proxy.upstream + self.path[len(proxy.prefix) :]
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                answer = httpx.request(
                    self.command, target, headers=headers, content=body, timeout=120
                )
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in _HOP_HEADERS | {"content-encoding"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                if fault == "truncate":  # half the body, then the connection drops
                    self.wfile.write(answer.content[: len(answer.content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fault_proxy(upstream: str, prefix: str = "/api/") -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, prefix)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
