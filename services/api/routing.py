"""The route table, made honest and quick: no path shadowed by an ``{id}`` sibling, 405s that list every
method, and no router asked about a path it cannot hold.

The router takes the first route whose path matches, so ``GET /reports/batch`` was taken by ``GET
/reports/{report_id}`` (a 422 on ``path.report_id``) and ``PATCH /residents/imports`` by ``PATCH
/residents/{resident_id}`` (a 428), where both should be 405 beside the literal path's own routes.
:func:`guard_shadowed` puts a 405 route for the other methods of each such literal path ahead of the
routers; :func:`allowed_methods` is what every 405's ``Allow`` lists: the methods of the path's routes.

:func:`index_by_first_segment`: FastAPI tries the included routers in order and each one tries all of its
routes, so ``POST /reports/{id}/report-in`` cost some 90 route matches (about 0.1 ms of CPU, a twentieth
of a report submission) before its own router was reached. A router whose every path starts with a
literal segment cannot match a path whose first segment is another one, so it now says ``NONE`` at once;
the order, the routes and what they match are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, compile_path
from starlette.types import Scope

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class _Path:
    def __init__(self, path: str, methods: Iterable[str]) -> None:
        self.path = path
        self.regex: re.Pattern[str] = compile_path(path)[0]
        self.methods = set(methods)
        # Literal segments: the more a path has, the more specific it is (/reports/batch over /reports/{id}).
        self.literals = sum(1 for part in path.strip("/").split("/") if not part.startswith("{"))


def _paths(routes: Sequence[BaseRoute | Any]) -> list[_Path]:
    merged: dict[str, set[str]] = {}
    for context in iter_route_contexts(routes):
        path, methods = context.path_format, context.methods
        if path and methods and getattr(context.original_route, "include_in_schema", True):
            merged.setdefault(path, set()).update(methods)
    return [_Path(path, methods) for path, methods in merged.items()]


async def _method_not_allowed(_request: Request) -> Response:
    raise HTTPException(405)


def guard_shadowed(app: Any, routes: Sequence[BaseRoute | Any]) -> None:
    """Before ``routes`` are included in ``app``: for every literal path that a parameter path also
    matches, a 405 route for the methods the literal path does not answer (never in the schema)."""
    paths = _paths(routes)
    for literal in paths:
        shadowed = any(other is not literal and other.regex.match(literal.path) for other in paths)
        if shadowed:
            others = sorted(METHODS - literal.methods - ({"HEAD"} if "GET" in literal.methods else set()))
            app.add_route(literal.path, _method_not_allowed, methods=others, include_in_schema=False)


def allowed_methods(routes: Sequence[BaseRoute | Any], path: str) -> list[str]:
    """The methods answered at ``path`` by its most specific routes (for a 405's ``Allow``), sorted."""
    matching = [p for p in _paths(routes) if p.regex.match(path)]
    if not matching:
        return []
    best = max(p.literals for p in matching)
    return sorted({m for p in matching if p.literals == best for m in p.methods})


def _first_segment(path: str) -> str:
    """``/reports/{id}/report-in`` -> ``reports``; ``/`` -> ``""``."""
    return path.split("/", 2)[1] if path.startswith("/") else path


def first_segments(route: BaseRoute) -> frozenset[str] | None:
    """The literal first segments of every path ``route`` can match; None when one of them is a parameter
    (or a path that does not start with ``/``), so nothing can be ruled out by the first segment."""
    heads: set[str] = set()
    for context in iter_route_contexts([route]):
        path = context.path_format
        if not path or not path.startswith("/"):
            return None
        head = _first_segment(path)
        if "{" in head:
            return None
        heads.add(head)
    return frozenset(heads)


def index_by_first_segment(app: Any) -> int:
    """Once every route is in: each included router of ``app`` answers ``Match.NONE`` without trying its
    routes when the request's first path segment is none of theirs. Returns how many routers were indexed."""
    indexed = 0
    for route in app.router.routes:
        if not hasattr(route, "original_router"):  # a plain route: one regex, nothing to gain
            continue
        heads = first_segments(route)
        if heads is None:
            continue
        route.matches = _guarded(route.matches, heads)
        indexed += 1
    return indexed


def _guarded(
    matches: Callable[[Scope], tuple[Match, Scope]], heads: frozenset[str]
) -> Callable[[Scope], tuple[Match, Scope]]:
    def guarded(scope: Scope) -> tuple[Match, Scope]:
        if _first_segment(get_route_path(scope)) not in heads:
            return Match.NONE, {}
        return matches(scope)

    return guarded
