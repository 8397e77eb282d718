"""The first-segment index answers every path with the route the plain scan would have chosen."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match

from services.api.app import create_app
from services.api.routing import METHODS
from tests.conftest import make_settings


def _chosen(routes: list[BaseRoute], scope: dict[str, object], *, indexed: bool) -> tuple[int, Match] | None:
    """Which top-level entry takes the request (first FULL, else first PARTIAL), as the router scans."""
    partial: tuple[int, Match] | None = None
    for i, route in enumerate(routes):
        # type(route).matches is the method as FastAPI defines it, without the index's guard.
        match, _ = route.matches(scope) if indexed else type(route).matches(route, scope)
        if match == Match.FULL:
            return i, match
        if match == Match.PARTIAL and partial is None:
            partial = (i, match)
    return partial


def test_the_index_chooses_the_route_the_plain_scan_chooses() -> None:
    app = create_app(make_settings("postgresql://unused@localhost/unused", "redis://localhost/0"))
    routes = list(app.router.routes)
    included = [r for r in routes if hasattr(r, "original_router")]
    assert included, "FastAPI keeps included routers as entries of the app's router"
    assert all(r.matches.__name__ == "guarded" for r in included)  # every one indexed (no parameter first)
    paths = {c.path_format for c in iter_route_contexts(routes) if c.path_format}
    concrete = {re.sub(r"\{[^}]+\}", "0b1c2d3e-0000-4000-8000-000000000000", p) for p in paths}
    concrete |= {p + "/" for p in concrete} | {"/", "/nowhere", "/reports/batch", "/metrics", "/docs-static/x.js"}
    for path in sorted(concrete):
        for method in sorted(METHODS):
            scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": [], "app": app}
            assert _chosen(routes, scope, indexed=True) == _chosen(routes, scope, indexed=False), (method, path)
