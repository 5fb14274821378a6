"""What happens to a request before any route sees it: the bearer token, then the body size.

A plain ASGI middleware, so a submission without the right token is refused (401 without a token,
403 with a wrong one, compared in constant time with ``hmac.compare_digest``) before a byte of its
body is read, and a body over the limit is refused (413) from its Content-Length or, when it is
streamed, as soon as the bytes received pass the limit — it is never read whole into memory.

Reads (``GET /api/...``) need the token too unless anonymous reads are on (``serve`` turns them
off when it listens beyond loopback); a valid token marks the request authenticated
(``scope["bench_authenticated"]``), which shows a run's host details. A client that fails
authentication :data:`MAX_FAILURES` times within :data:`FAILURE_WINDOW` seconds is refused (429)
until the window has passed, before its token is even compared.

Tokens are never logged or echoed: :class:`RedactQuery` removes query-string values (where a token
may be put by mistake) from the access log.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIX = "/api/results"
READ_PREFIX = "/api/"
DEFAULT_MAX_BODY = 16 * 2**20
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
#: query parameters whose values may appear in the access log; every other value is redacted
LOGGED_PARAMS = frozenset({"suite", "tool", "status", "trigger", "limit", "offset"})


class RedactQuery(logging.Filter):
    """For uvicorn's access log: query-string values other than :data:`LOGGED_PARAMS` become
    ``[redacted]``, so ``?token=…`` (or any secret a client put in a URL) never reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        return True


def redact_url(url: str) -> str:
    path, _, query = url.partition("?")
    kept = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        kept.append(pair if name in LOGGED_PARAMS or not eq else f"{name}=[redacted]")
    return f"{path}?{'&'.join(kept)}"


def token_ok(presented: str, expected: bytes) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected)


async def _reply(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Token check for ``POST /api/results*`` and a body size limit for every request with a body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: bytes | None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        anonymous_reads: bool = True,
    ) -> None:
        self.app = app
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.anonymous_reads = anonymous_reads
        self.failures: dict[str, deque[float]] = {}

    def _blocked(self, client: str) -> float:
        """Seconds until ``client`` may try a token again (0: now)."""
        times = self.failures.get(client)
        if not times:
            return 0.0
        now = time.monotonic()
        while times and now - times[0] > FAILURE_WINDOW:
            times.popleft()
        if not times:
            self.failures.pop(client, None)
            return 0.0
        return FAILURE_WINDOW - (now - times[0]) if len(times) >= MAX_FAILURES else 0.0

    def _failed(self, client: str) -> None:
        if len(self.failures) > 10_000:  # bounded: forget the oldest clients
            self.failures.pop(next(iter(self.failures)))
        self.failures.setdefault(client, deque(maxlen=MAX_FAILURES)).append(time.monotonic())

    async def _authenticate(
        self, scope: Scope, send: Send, headers: dict[bytes, bytes], required: bool
    ) -> bool:
        """True when the request may go on; otherwise the refusal has been sent."""
        client = (scope.get("client") or ("?", 0))[0]
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, presented = auth.partition(" ")
        if not auth and not required:
            return True  # an anonymous read
        if wait := self._blocked(client):
            await _reply(
                send,
                429,
                "too many failed authentications; try again later",
                [(b"retry-after", str(int(wait) + 1).encode())],
            )
            return False
        if not self.token:
            await _reply(
                send,
                503,
                "submissions are disabled: the server has no API token (set BENCH_PIPELINE_API_TOKEN)"
                if scope.get("method") == "POST"
                else "reads need a token and the server has none (set BENCH_PIPELINE_API_TOKEN, or serve --anonymous-reads)",
            )
            return False
        if scheme.lower() != "bearer" or not presented.strip():
            self._failed(client)
            await _reply(send, 401, "missing bearer token", [(b"www-authenticate", b"Bearer")])
            return False
        if not token_ok(presented.strip(), self.token):
            self._failed(client)
            await _reply(send, 403, "invalid token")
            return False
        scope["bench_authenticated"] = True
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        submission = method == "POST" and path.startswith(PROTECTED_PREFIX)
        required = submission or not self.anonymous_reads
        if (submission or path.startswith(READ_PREFIX)) and not await self._authenticate(
            scope, send, headers, required=required
        ):
            return
        if method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reply(send, 400, "invalid Content-Length")
                return
            if declared > self.max_body_bytes:
                await _reply(send, 413, f"request body over the limit of {self.max_body_bytes} bytes")
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                await _reply(send, 413, f"request body over the limit of {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class ErrorIds:
    """ASGI middleware: an unexpected exception becomes ``500 {"detail", "request_id"}``; the trace goes
    to the log (``bench_pipeline.http``, the CLI's log file) under that id, never to the client."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message.get("type") == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            request_id = uuid.uuid4().hex[:16]
            logging.getLogger("bench_pipeline.http").exception(
                "request %s %s %s failed", request_id, scope.get("method"), scope.get("path")
            )
            if started:
                return
            body = json.dumps(
                {"detail": "internal error (the server log has the trace)", "request_id": request_id}
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
