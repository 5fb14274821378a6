"""The history dashboard of ``bench-pipeline serve`` (docs/dashboard.md): HTML pages under
``/dashboard/`` (``GET /`` leads there), read-only and open without a token like every ``GET``;
submissions stay behind the bearer token (``guard``).

Pages come from ``bench_pipeline.report.dashboard_pages``; their script, styles and plotly.js (the
copy the reports inline, from the installed ``plotly`` package) are served from ``/dashboard/static/``,
so a browser loads nothing from elsewhere — the Content-Security-Policy says so too. Archived reports
are served from the reports folder by suite, run id and format only (no paths from the request).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from bench_pipeline.errors import BenchError
from bench_pipeline.interfaces.http.reads import read
from bench_pipeline.report import dashboard, dashboard_pages
from bench_pipeline.report.archive import FORMATS
from bench_pipeline.report.html import plotly_js, static_text
from bench_pipeline.report.html_parts import METRICS

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
STATIC: dict[str, tuple[str, Callable[[], str]]] = {
    "plotly.min.js": ("application/javascript", plotly_js),
    "tables.js": ("application/javascript", lambda: static_text("tables.js")),
    "dashboard.js": ("application/javascript", lambda: static_text("dashboard.js")),
    "dashboard.css": ("text/css", lambda: static_text("dashboard.css")),
    "report.css": ("text/css", lambda: static_text("report.css")),
}
REPORT_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"Content-Security-Policy": CSP})


def _page(render: Callable[[], str]) -> HTMLResponse:
    """``render()``'s page; a 404 (unknown suite, run, operation) or 400 as a page that says why."""
    try:
        return _html(render())
    except HTTPException as exc:
        return _html(dashboard_pages.error_page(exc.status_code, str(exc.detail)), exc.status_code)


@cache
def _static(name: str) -> tuple[bytes, str]:
    body = STATIC[name][1]().encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:16]


def _metric(metric: str) -> str:
    if metric not in METRICS:
        raise HTTPException(400, f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return metric


def router() -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(f"{dashboard_pages.ROOT}/", status_code=307)

    @pages.get(f"{dashboard_pages.ROOT}/static/{{name}}")
    def static(name: str, request: Request) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        body, tag = _static(name)
        headers = {"ETag": f'"{tag}"', "Cache-Control": "public, max-age=3600"}
        if request.headers.get("if-none-match") == f'"{tag}"':
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=STATIC[name][0], headers=headers)

    @pages.get(f"{dashboard_pages.ROOT}/")
    def suites(request: Request) -> HTMLResponse:
        return _page(lambda: dashboard_pages.suites_page(read(request, dashboard.suites)))

    @pages.get(f"{dashboard_pages.ROOT}/{{suite}}")
    def overview(suite: str, request: Request) -> HTMLResponse:
        return _page(lambda: dashboard_pages.overview_page(read(request, dashboard.suite_overview, suite)))

    @pages.get(f"{dashboard_pages.ROOT}/{{suite}}/operations/{{operation:path}}")
    def operation(suite: str, operation: str, request: Request, metric: str = Query("wall")) -> HTMLResponse:
        return _page(
            lambda: dashboard_pages.operation_page(
                read(request, dashboard.operation_history, suite, operation, _metric(metric)),
                read(request, dashboard.operations_of, suite),
            )
        )

    @pages.get(f"{dashboard_pages.ROOT}/{{suite}}/runs/{{run_id}}")
    def run(suite: str, run_id: str, request: Request) -> HTMLResponse:
        return _page(lambda: dashboard_pages.run_page(read(request, dashboard.run_detail, suite, run_id)))

    @pages.get(f"{dashboard_pages.ROOT}/{{suite}}/runs/{{run_id}}/report.{{fmt}}")
    def archived_report(suite: str, run_id: str, fmt: str, request: Request) -> FileResponse:
        if fmt not in FORMATS:
            raise HTTPException(404, "no such report format")
        read(request, dashboard.run_of_suite, suite, run_id)  # a run of this suite, or 404
        path = dashboard.report_dir(suite, run_id) / f"report.{fmt}"
        if not path.is_file():
            raise HTTPException(404, f"run {run_id} has no archived report.{fmt}")
        return FileResponse(path, media_type=REPORT_TYPES[fmt])

    @pages.get(f"{dashboard_pages.ROOT}/{{suite}}/compare")
    def compare(
        suite: str,
        request: Request,
        baseline: str | None = Query(None, max_length=300),
        candidate: str | None = Query(None, max_length=300),
        metric: str = Query("wall"),
    ) -> HTMLResponse:
        runs = read(request, dashboard.runs_of, suite)
        if not runs:
            return _html(dashboard_pages.error_page(404, f"suite {suite!r} has no finished runs"), 404)
        result, error = None, None
        if baseline and candidate:
            try:
                result = read(request, dashboard.compare, suite, baseline, candidate, _metric(metric))
            except (BenchError, HTTPException) as exc:
                error = exc.message if isinstance(exc, BenchError) else str(exc.detail)
        elif len(runs) > 1:  # a first look: the newest run against the one before
            baseline, candidate = runs[1]["run_id"], runs[0]["run_id"]
        text = dashboard_pages.compare_page(
            suite, runs, result, baseline=baseline, candidate=candidate, metric=metric, error=error
        )
        return _html(text, 400 if error else 200)

    return pages
