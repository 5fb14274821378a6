"""Reading a source file safely: size limit before reading, exact numbers, precise error messages.

A file over the limit (``BENCH_PIPELINE_INGEST_MAX_BYTES``, default 256 MiB) is refused from its
size alone, before a byte is read. JSON numbers with a fraction are parsed as ``Decimal`` (exact);
``NaN``/``Infinity`` (which Python's json module would accept) are refused, and so are integers of
more than :data:`MAX_INT_DIGITS` digits (nothing we store holds them).

The size limit bounds the file, not the memory a whole-document parse takes (several times the
file). So a JSON file over :data:`FULL_PARSE_BYTES` is recognised from its first MiB
(:meth:`Source.json_doc` returns a *skeleton*: the document's beginning, arrays cut to their first
items), and adapters of formats that carry very many values read it incrementally
(:meth:`Source.json_events`, ``ijson``), never whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import ijson

from bench_pipeline.errors import IngestError
from bench_pipeline.files import sha256_file

DEFAULT_MAX_BYTES = 256 * 2**20
FULL_PARSE_BYTES = 16 * 2**20  # JSON files larger than this are never parsed whole for detection
HEAD_BYTES = 2**20
SKELETON_ITEMS = 8
MAX_INT_DIGITS = 40


def max_bytes() -> int:
    raw = os.environ.get("BENCH_PIPELINE_INGEST_MAX_BYTES")
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        return int(raw)
    except ValueError:
        raise IngestError(
            f"BENCH_PIPELINE_INGEST_MAX_BYTES={raw!r} is not a number of bytes",
            where="environment",
            fix="set it to an integer, e.g. 268435456",
        ) from None


class _NotAllowed(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotAllowed(f"{name} is not allowed (JSON has no NaN or infinity)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotAllowed(f"an integer of {len(text.lstrip('-')):,} digits is too large")
    return int(text)


def parse_json(text: str | bytes, where: str) -> Any:
    """JSON with exact decimals; errors name the line and column."""
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_bounded_int, parse_constant=_reject_constant)
    except _NotAllowed as exc:
        raise IngestError(str(exc), where=where, fix="write numbers as finite values") from None
    except json.JSONDecodeError as exc:
        length = len(text)
        truncated = exc.pos >= length - 1 or not (text.strip() if isinstance(text, str) else text.strip())
        hint = "the file ends early (truncated?)" if truncated else exc.msg
        raise IngestError(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {hint}",
            where=where,
            fix="re-export the file from the tool; a partial write leaves a truncated file",
        ) from None
    except RecursionError:
        raise IngestError(
            "JSON nested too deeply", where=where, fix="this is not a benchmark result file"
        ) from None
    except UnicodeDecodeError:
        raise IngestError("not UTF-8 text", where=where, fix="pass the tool's JSON output") from None


class Source:
    """One input path (a file or a directory), read at most once and only if under the size limit."""

    def __init__(self, path: Path, *, limit: int | None = None) -> None:
        self.path = Path(path)
        self.limit = max_bytes() if limit is None else limit
        if not self.path.exists():
            raise IngestError("no such file or directory", where=str(self.path), fix="check the path")
        self.is_dir = self.path.is_dir()
        if not self.is_dir and not self.path.is_file():
            raise IngestError(
                "not a regular file or directory", where=str(self.path), fix="pass a result file"
            )

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def where(self) -> str:
        return str(self.path)

    def check_size(self, path: Path | None = None) -> int:
        path = path or self.path
        size = path.stat().st_size
        if size > self.limit:
            raise IngestError(
                f"file is {size:,} bytes, over the ingestion limit of {self.limit:,} bytes",
                where=str(path),
                fix="split the results into smaller files, or raise BENCH_PIPELINE_INGEST_MAX_BYTES",
            )
        return size

    @cached_property
    def data(self) -> bytes:
        if self.is_dir:
            raise IngestError("is a directory", where=self.where, fix="pass a file")
        self.check_size()
        with open(self.path, "rb") as f:
            data = f.read(self.limit + 1)
        if len(data) > self.limit:  # grew while we read it
            raise IngestError(
                f"file is over the ingestion limit of {self.limit:,} bytes",
                where=self.where,
                fix="split the results into smaller files, or raise BENCH_PIPELINE_INGEST_MAX_BYTES",
            )
        return data

    @cached_property
    def sha256(self) -> str:
        if "data" in self.__dict__ or self.is_dir:
            return hashlib.sha256(self.data).hexdigest()
        self.check_size()
        return sha256_file(self.path)  # in blocks: a large file is never held for its hash

    @property
    def size(self) -> int:
        return 0 if self.is_dir else self.path.stat().st_size

    @cached_property
    def text(self) -> str:
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"not UTF-8 text (byte {exc.start})", where=self.where, fix="pass the tool's text/JSON output"
            ) from None

    def head(self, n: int = 8192) -> bytes:
        if self.is_dir:
            return b""
        self.check_size()
        with open(self.path, "rb") as f:
            return f.read(n)

    def looks_like_json(self) -> bool:
        start = self.head(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        return start[:1] in (b"{", b"[")

    @cached_property
    def json(self) -> Any:
        return parse_json(self.text, self.where)

    def json_doc(self) -> Any:
        """The parsed JSON document for content detection, or None when it is not one (the error
        is raised later, if no adapter recognises the file). A file over FULL_PARSE_BYTES gives its
        skeleton instead (the beginning, arrays cut to SKELETON_ITEMS items)."""
        if self.is_dir or not self.looks_like_json():
            return None
        if self.size > FULL_PARSE_BYTES:
            return self.json_skeleton
        try:
            return self.json
        except IngestError:
            return None

    @cached_property
    def json_skeleton(self) -> Any:
        return skeleton(self.head(HEAD_BYTES))

    def json_events(self) -> Iterator[tuple[str, str, Any]]:
        """``ijson`` parse events ``(prefix, event, value)`` of the file, read incrementally; numbers
        with a fraction as Decimal. A syntax error is an IngestError (NaN and Infinity included).

        Integers of more than MAX_INT_DIGITS digits are looked for first (a byte scan): ijson's C
        parser must never see one (converting it fails inside the parser, which may crash)."""
        self.check_size()
        self._refuse_long_numbers()
        failure = ""
        with open(self.path, "rb") as f:
            basic = ijson.basic_parse(f, use_float=False)
            try:
                yield from _events(basic, self.where)
            except ijson.JSONError as exc:
                failure = f"not valid JSON: {_first_line(exc)}"
            finally:
                del basic  # before the file closes
        if failure:
            if self.size <= FULL_PARSE_BYTES:
                self.json  # noqa: B018 — the whole-document parser names the problem precisely (NaN, …)
            raise IngestError(
                failure,
                where=self.where,
                fix="re-export the file from the tool; a partial write leaves a truncated file",
            )

    def _refuse_long_numbers(self) -> None:
        long_run = re.compile(rb"[0-9]{%d,}" % (MAX_INT_DIGITS + 1))
        tail = b""
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                if long_run.search(tail + block):
                    if self.size <= FULL_PARSE_BYTES:
                        self.json  # noqa: B018 — says which number, or shows the digits are text
                        return
                    raise IngestError(
                        f"a number of more than {MAX_INT_DIGITS} digits",
                        where=self.where,
                        fix="write finite numbers",
                    )
                tail = block[-MAX_INT_DIGITS:]

    def first_json_line(self) -> Any:
        """The first line parsed as JSON (JSON-lines formats), or None."""
        if self.is_dir or not self.looks_like_json():
            return None
        first = self.head(1 << 16).decode("utf-8", "replace").lstrip("\ufeff \t\r\n").split("\n", 1)[0]
        try:
            return parse_json(first, self.where)
        except IngestError:
            return None

    @cached_property
    def json_lines(self) -> list[Any]:
        """One JSON value per non-empty line."""
        values = []
        for number, line in enumerate(self.text.splitlines(), 1):
            if line.strip():
                values.append(parse_json(line, f"{self.where}:{number}"))
        return values


MAX_DEPTH = 64


def _events(basic: Iterator[tuple[str, Any]], where: str) -> Iterator[tuple[str, str, Any]]:
    """``ijson.parse``'s ``(prefix, event, value)`` from its basic events, refusing documents nested
    deeper than MAX_DEPTH (ijson's own prefixes grow with the depth: quadratic memory)."""
    path: list[str] = []
    for event, value in basic:
        if event == "map_key":
            prefix = ".".join(path[:-1])
            path[-1] = value
        elif event in ("start_map", "start_array"):
            prefix = ".".join(path)
            path.append("" if event == "start_map" else "item")
            if len(path) > MAX_DEPTH:
                raise IngestError(
                    f"JSON nested deeper than {MAX_DEPTH} levels",
                    where=where,
                    fix="this is not a benchmark result file",
                )
        elif event in ("end_map", "end_array"):
            path.pop()
            prefix = ".".join(path)
        else:
            prefix = ".".join(path)
        yield prefix, event, value


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def skeleton(head: bytes, items: int = SKELETON_ITEMS) -> Any:
    """The JSON document that ``head`` begins, for recognising a format: arrays keep their first
    ``items`` items, a container the head cuts before its first member is dropped. None when the
    head is not the beginning of one JSON value."""
    root: list[Any] = []
    stack: list[tuple[Any, Any]] = [(root, None)]  # (container, pending key)
    skip = 0  # depth inside an array item beyond ``items``
    counts: list[int] = [0]

    def add(value: Any) -> bool:
        container, key = stack[-1]
        if isinstance(container, list):
            counts[-1] += 1
            if counts[-1] > items and container is not root:
                return False
            container.append(value)
        else:
            container[key] = value
        return True

    try:
        for _prefix, event, value in _events(ijson.basic_parse(io.BytesIO(head), use_float=False), "head"):
            if skip:
                skip += (
                    1
                    if event in ("start_map", "start_array")
                    else -1
                    if event in ("end_map", "end_array")
                    else 0
                )
                continue
            if event == "map_key":
                stack[-1] = (stack[-1][0], value)
            elif event in ("start_map", "start_array"):
                new: Any = {} if event == "start_map" else []
                if not add(new):
                    skip = 1
                    continue
                stack.append((new, None))
                counts.append(0)
            elif event in ("end_map", "end_array"):
                stack.pop()
                counts.pop()
            elif not add(value):
                continue
    except ijson.IncompleteJSONError:
        for container, _key in reversed(stack[1:]):  # cut before its first member: drop it
            if not container:
                parent = stack[stack.index((container, _key)) - 1][0]
                if isinstance(parent, list) and parent and parent[-1] is container:
                    parent.pop()
    except (ijson.JSONError, ValueError, IngestError):
        return None
    return root[0] if root else None


def hash_files(root: Path, files: list[Path]) -> str:
    """A content hash of a directory's relevant files (relative names and bytes, sorted)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
