"""The HTTP server: kube-scheduler's extender verbs over stdlib ``http.server``.

``POST <prefix>/filter``, ``<prefix>/prioritize`` and ``<prefix>/bind`` (the verb is the last
path segment, so any ``urlPrefix`` works) take JSON bodies; ``GET /healthz`` answers ``ok``.
A malformed body is a 400 with ``{"Error": reason}`` naming the field; a body over
:data:`MAX_BODY` a 413; an unknown path a 404; any other failure a 500 with its text. The
server never lets an exception escape a request, and a thread serves each connection
(``ThreadingHTTPServer``), with keep-alive (HTTP/1.1) as kube-scheduler's client uses it.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from topoplace.errors import TopoplaceError
from topoplace.extender.protocol import (
    RequestError,
    binding_args,
    binding_result,
    extender_args,
    filter_result,
    host_priority_list,
    parse_json,
)
from topoplace.extender.state import ExtenderState

__all__ = ["MAX_BODY", "ExtenderServer", "make_server", "serve_in_thread"]

#: The largest request body accepted: a 5,000-node NodeList of full Node objects is ~30 MB.
MAX_BODY = 256 * 1024 * 1024
_VERBS = ("filter", "prioritize", "bind")


class _Answer(Exception):
    """Ends a request with this status and JSON body."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class ExtenderServer(ThreadingHTTPServer):
    """A threading HTTP server holding the :class:`ExtenderState` its handlers use."""

    daemon_threads = True
    # The default backlog of 5 refuses connections when many clients start at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ExtenderState, *, quiet: bool) -> None:
        self.state = state
        self.quiet = quiet
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (40 ms on Linux) on a keep-alive connection.
    disable_nagle_algorithm = True
    server: ExtenderServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        if not self.server.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise _Answer(411, {"Error": "chunked bodies are not accepted; send Content-Length"})
        if length is None:
            self.close_connection = True
            raise _Answer(411, {"Error": "Content-Length: missing"})
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            raise _Answer(400, {"Error": f"Content-Length: {length!r} is not a length"})
        if size > MAX_BODY:
            self.close_connection = True
            raise _Answer(413, {"Error": f"body of {size} bytes exceeds {MAX_BODY}"})
        body = self.rfile.read(size)
        if len(body) != size:
            self.close_connection = True
            raise _Answer(400, {"Error": f"body ended after {len(body)} of {size} bytes"})
        return body

    def _verb(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        verb = path.rsplit("/", 1)[-1]
        if verb not in _VERBS:
            raise _Answer(404, {"Error": f"no verb at {self.path} (expected {', '.join(_VERBS)})"})
        return verb

    def _run(self, verb: str, body: object) -> object:
        state = self.server.state
        if verb == "bind":
            return binding_result(state.bind(binding_args(body)))
        args = extender_args(body)
        state.remember(args.pod)
        if verb == "filter":
            passed, failed, unresolvable = state.filter(args.pod, args.node_names)
            return filter_result(args, passed, failed, unresolvable)
        return host_priority_list(state.prioritize(args.pod, args.node_names))

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        try:
            try:
                body = self._body()
                verb = self._verb()
                answer = self._run(verb, parse_json(body))
            except RequestError as e:
                raise _Answer(400, {"Error": str(e)}) from e
            except (TopoplaceError, ValueError) as e:
                raise _Answer(400, {"Error": f"{type(e).__name__}: {e}"}) from e
            except _Answer:
                raise
            except Exception as e:
                sys.stderr.write(f"topoplace extender: {self.path}: {type(e).__name__}: {e}\n")
                raise _Answer(500, {"Error": f"internal error: {type(e).__name__}: {e}"}) from e
            self._send(200, answer)
        except _Answer as a:
            self._send(a.status, a.body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?", 1)[0].rstrip("/").endswith(("/healthz", "/readyz")):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send(
                405 if self.path.rstrip("/").endswith(_VERBS) else 404,
                {"Error": f"GET {self.path}: the verbs take POST"},
            )

    def _refuse(self) -> None:
        self._send(405, {"Error": f"{self.command} is not allowed; the verbs take POST"})

    do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815 - http.server's names


def make_server(
    state: ExtenderState, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
) -> ExtenderServer:
    """A bound, not yet serving, server (``port`` 0: any free port; see ``server_address``)."""
    return ExtenderServer((host, port), state, quiet=quiet)


def serve_in_thread(server: ExtenderServer) -> threading.Thread:
    """Starts ``server.serve_forever`` in a daemon thread (stop it with ``shutdown()``)."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="topoplace-extender",
        daemon=True,
    )
    thread.start()
    return thread
