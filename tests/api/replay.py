"""A real HTTP server on 127.0.0.1 that replays recorded helpdesk API pages, with injectable faults.

Routes are plain functions of (path, query) returning a :class:`Reply`. ``inject`` queues faults (429, 5xx,
...) for matching requests before the normal answer. Every request is recorded with its Authorization
header. The server runs in a daemon thread and shuts itself down after ``lifetime`` seconds at the latest.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Query = dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    path: str
    query: Query
    authorization: str | None


@dataclass
class Fault:
    path: str
    when: Callable[[Query], bool]
    replies: deque[Reply]


Route = Callable[[str, Query], Reply | None]


class ReplayServer:
    def __init__(self, route: Route, expected_authorization: str | None = None, lifetime: float = 120.0):
        self.route = route
        self.expected_authorization = expected_authorization
        self.requests: list[Recorded] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._watchdog = threading.Timer(lifetime, self._server.shutdown)
        self._watchdog.daemon = True

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ReplayServer:
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        self._watchdog.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def inject(self, path: str, *replies: Reply, when: Callable[[Query], bool] = lambda _q: True) -> None:
        """Answer the next ``len(replies)`` requests for ``path`` matching ``when`` with these replies."""
        with self._lock:
            self._faults.append(Fault(path, when, deque(replies)))

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def _answer(self, path: str, query: Query, authorization: str | None) -> Reply:
        with self._lock:
            self.requests.append(Recorded(path, query, authorization))
            for fault in self._faults:
                if fault.path == path and fault.replies and fault.when(query):
                    return fault.replies.popleft()
        if self.expected_authorization is not None and authorization != self.expected_authorization:
            return Reply(401, {"error": "Couldn't authenticate you"})
        reply = self.route(path, query)
        return reply if reply is not None else Reply(404, {"error": "RecordNotFound"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                reply = server._answer(parts.path, query, self.headers.get("Authorization"))
                body = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        return Handler
