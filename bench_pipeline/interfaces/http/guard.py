"""What happens to a request before any route sees it: the bearer token, then the body size.

A plain ASGI middleware, so a submission without the right token is refused (401 without a token,
403 with a wrong one, compared in constant time with ``hmac.compare_digest``) before a byte of its
body is read, and a body over the limit is refused (413) from its Content-Length or, when it is
streamed, as soon as the bytes received pass the limit — it is never read whole into memory.
Tokens are never logged or echoed.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PROTECTED_PREFIX = "/api/results"
DEFAULT_MAX_BODY = 16 * 2**20


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

    def __init__(self, app: ASGIApp, *, token: bytes | None, max_body_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.token = token
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        if method == "POST" and scope.get("path", "").startswith(PROTECTED_PREFIX):
            if not self.token:
                await _reply(
                    send,
                    503,
                    "submissions are disabled: the server has no API token (set BENCH_PIPELINE_API_TOKEN)",
                )
                return
            auth = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, presented = auth.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                await _reply(send, 401, "missing bearer token", [(b"www-authenticate", b"Bearer")])
                return
            if not token_ok(presented.strip(), self.token):
                await _reply(send, 403, "invalid token")
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
