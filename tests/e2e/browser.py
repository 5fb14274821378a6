"""Headless Chromium for the browser tests: a system Chromium when there is one (Debian's; Playwright's
own download may be unavailable), every request the test does not allow refused, console and page
errors collected. No browser here: the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    explicit = os.environ.get("BENCH_PIPELINE_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Watched:
    page: Any
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    refused: list[str] = field(default_factory=list)  # requests the test did not allow


@contextmanager
def offline_page(allowed: Callable[[str], bool], **page_options: Any) -> Iterator[Watched]:
    """A new page whose requests go out only when ``allowed(url)``; the others are aborted and listed."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        except Exception as exc:  # no browser here: nothing to test
            pytest.skip(f"cannot start Chromium: {exc}")
        try:
            watched = Watched(browser.new_page(**page_options))
            page = watched.page
            page.on(
                "console",
                lambda m: watched.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda exc: watched.errors.append(f"page: {exc}"))

            def route(r: Any) -> None:
                if allowed(r.request.url):
                    r.continue_()
                else:
                    watched.refused.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            yield watched
        finally:
            browser.close()
