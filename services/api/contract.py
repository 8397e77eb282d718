"""The contract tells the whole truth: what FastAPI's generated schema leaves out, added once for every route.

Run over ``app.openapi()`` by the app factory, so a new route gets all of it without code of its own:

* ``X-Request-ID`` on every response; ``ETag`` (and ``Location``, ``Idempotent-Replayed``) on the
  success answers of every route that answers a record through ``deps.answer`` (found in the
  handler's source, one helper deep); ``WWW-Authenticate`` on 401, ``Retry-After`` on 429 and 503;
* ``If-Match`` required, with its pattern, on every route that depends on ``deps.IfMatch`` or
  ``deps.IfMatchLater``; cursors documented as opaque;
* 400 ``malformed_json`` and 413 on every operation with a body, 503 on every operation that opens
  the unit of work, 422 wherever there is input;
* every property of a response schema required (the server always sends every field; a nullable
  one says so in its description); ``security: []`` on the public operations; ``servers`` and
  ``info.license``.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from services.api import deps, problems

PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")

# Component headers, referenced from every response that carries them.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The id of this request (yours when you sent a sane `X-Request-ID`); quote it in a report.",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    "ETag": {
        "description": 'The record\'s `version` in quotes (`"3"`; the body carries the same number as its typed '
        "`version` field); send it back as `If-Match` to change the record.",
        "required": True,
        "schema": {"type": "string", "pattern": r'^"\d{1,9}"$'},
    },
    "Location": {
        "description": "Where the record lives.",
        "required": True,
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays an earlier create (same id or Idempotency-Key, same body).",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme to use (`Bearer`), with the error.",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    },
    "Cache-Control": {
        "description": "`no-store`: tokens must not be cached (RFC 6749 §5.1).",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    },
    "Pragma": {
        "description": "`no-cache` (RFC 6749 §5.1).",
        "required": True,
        "schema": {"type": "string", "enum": ["no-cache"]},
    },
}

IF_MATCH_PATTERN = deps.IF_MATCH_PATTERN
CURSOR_PARAMETERS = frozenset({"cursor", "since"})
CURSOR_DESCRIPTION = (
    "Opaque: pass back the `next_cursor` of the previous answer unchanged; never build one. "
    "A forged or damaged cursor is a 422."
)

LICENSE = {"name": "Proprietary: for the district health commission and the parties it licenses"}
SERVERS = [{"url": "/", "description": "The server that serves this document."}]

_NO_STORE_HEADERS = ("Cache-Control", "Pragma")


def augment(schema: dict[str, Any], routes: Iterable[Any], *, public_paths: frozenset[str]) -> dict[str, Any]:
    """Add to FastAPI's ``schema`` what it cannot know; ``routes`` are the app's routes."""
    schema["info"]["license"] = LICENSE
    schema["servers"] = SERVERS
    components = schema.setdefault("components", {})
    components["headers"] = {name: dict(header) for name, header in HEADERS.items()}
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema or not context.path_format:
            continue
        item = schema["paths"].get(context.path_format, {})
        for method in context.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                _operation(operation, route, path=context.path_format, public=context.path_format in public_paths)
    _required_response_fields(schema)
    _date_bounds(schema)
    return schema


# ---------------------------------------------------------------- one operation


def _operation(operation: dict[str, Any], route: APIRoute, *, path: str, public: bool) -> None:
    responses: dict[str, dict[str, Any]] = operation["responses"]
    calls = set(_dependency_calls(route.dependant))
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    if public:
        operation["security"] = []
    for parameter in parameters:
        if parameter["in"] == "header" and parameter["name"].lower() == "if-match":
            if calls & {deps.if_match, deps.if_match_later, deps.if_match_later_header} or "428" in responses:
                parameter["required"] = True
                parameter["schema"] = {"type": "string", "pattern": IF_MATCH_PATTERN, "maxLength": 13}
        if parameter["in"] == "query" and parameter["name"] in CURSOR_PARAMETERS and _is_text(parameter["schema"]):
            parameter["description"] = CURSOR_DESCRIPTION
            parameter["schema"] = {"type": "string", "maxLength": 500, "pattern": r"^[A-Za-z0-9_-]*$"}
    extra: list[int] = []
    if "requestBody" in operation:
        extra += [400, 413]
    if parameters or "requestBody" in operation:
        extra.append(422)
    if deps.get_db in calls:
        extra.append(503)
    for status, entry in problems.problem_responses(*extra).items():
        responses.setdefault(str(status), _fhir_outcome(entry) if path.startswith(FHIR_PREFIX) else entry)
    record = _answers_a_record(route.endpoint)
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        headers["X-Request-ID"] = _ref("X-Request-ID")
        if status.startswith("2") and record is not None:
            headers["ETag"] = _ref("ETag")
            if record.location:
                headers["Location"] = _ref("Location")
            if record.replays and status == "200":
                headers["Idempotent-Replayed"] = _ref("Idempotent-Replayed")
        if status == "401":
            headers["WWW-Authenticate"] = _ref("WWW-Authenticate")
        if status in ("429", "503"):
            headers["Retry-After"] = _ref("Retry-After")
        if path in problems.NO_STORE_PATHS:
            for name in _NO_STORE_HEADERS:
                headers[name] = _ref(name)


# The FHIR face answers its errors as OperationOutcome (``problems.problem`` renders them so).
FHIR_PREFIX = "/fhir/"
_OUTCOME = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"const": "OperationOutcome"}},
}


def _fhir_outcome(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "content": {"application/fhir+json": {"schema": _OUTCOME}}}


def _is_text(schema: dict[str, Any]) -> bool:
    """A plain string (or string-or-null): not a date or a number that happens to be called ``since``."""
    options = [schema, *schema.get("anyOf", [])]
    strings = [o for o in options if o.get("type") == "string"]
    return bool(strings) and not any("format" in o for o in strings)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


# ---------------------------------------------------------------- "answers a record": read from the source


class _Record:
    def __init__(self, *, location: bool, replays: bool) -> None:
        self.location = location
        self.replays = replays


def _answers_a_record(endpoint: Callable[..., Any]) -> _Record | None:
    """Whether ``endpoint`` answers through ``deps.answer`` (directly or in a helper of its module),
    and with which keywords: the only way an ETag, a Location or a replay header is set."""
    module = sys.modules.get(endpoint.__module__)
    if module is None:
        return None
    functions = _module_functions(module.__name__)
    seen: set[str] = set()
    found: list[ast.Call] = []

    def walk(name: str) -> None:
        if name in seen or name not in functions:
            return
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == deps.answer.__name__:
                    found.append(node)
                else:
                    walk(node.func.id)

    walk(endpoint.__name__)
    if not found:
        return None
    keywords = {kw.arg for call in found for kw in call.keywords}
    return _Record(location="location" in keywords, replays="created" in keywords)


@cache
def _module_functions(module_name: str) -> dict[str, ast.AsyncFunctionDef | ast.FunctionDef]:
    source = textwrap.dedent(inspect.getsource(sys.modules[module_name]))
    return {
        node.name: node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
    }


# ---------------------------------------------------------------- response schemas


_NULL = re.compile(r"\bnull\b")


def _required_response_fields(schema: dict[str, Any]) -> None:
    """Every property of a schema only answered (never sent) is required: the server serialises every
    field, defaults included. A schema also used in requests is left as it is."""
    components: dict[str, Any] = schema["components"]["schemas"]
    requests: set[str] = set()
    answers: set[str] = set()
    for item in schema["paths"].values():
        for operation in item.values():
            _refs(operation.get("requestBody", {}), components, requests)
            for parameter in operation.get("parameters", []):
                _refs(parameter, components, requests)
            for response in operation["responses"].values():
                _refs(response.get("content", {}), components, answers)
    answers.discard("Problem")  # problem members are sent only when they say something
    answers -= {name for name in answers if name in _refs_of("Problem", components)}
    for name in sorted(answers):
        if name in requests:
            continue
        model = components[name]
        properties: dict[str, Any] = model.get("properties", {})
        if properties:
            model["required"] = list(properties)
        for prop in properties.values():
            if _nullable(prop) and not _NULL.search(prop.get("description", "")):
                prop["description"] = (
                    prop.get("description", "").rstrip(". ") + ". `null` when there is none."
                ).lstrip(". ")


def _nullable(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", [])) or prop.get("type") == "null"


def _refs_of(name: str, components: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    _refs(components.get(name, {}), components, found)
    return found


def _refs(node: Any, components: dict[str, Any], found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in found:
                found.add(name)
                _refs(components.get(name, {}), components, found)
        for value in node.values():
            _refs(value, components, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, components, found)


# ---------------------------------------------------------------- date bounds


_BOUNDS = ("ge", "gt", "le", "lt")


def _date_bounds(node: Any) -> None:
    """Pydantic writes a date's bound as ``ge: "1900-01-01"``, which JSON Schema does not know. A lower
    bound on the first of January becomes a pattern on the year (what JSON Schema can say); every
    bound is also said in the description."""
    if isinstance(node, list):
        for value in node:
            _date_bounds(value)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and node.get("format") in ("date", "date-time") and _BOUNDS[0] in node:
        bound = str(node.pop("ge"))
        if bound[4:10] == "-01-01" and bound[:4].isdigit() and "pattern" not in node:
            node["pattern"] = f"^{_year_at_least(bound[:4])}-"
        node["description"] = (node.get("description", "") + f" Not before {bound}.").strip()
    for key in _BOUNDS[1:]:
        if node.get("format") in ("date", "date-time") and key in node:
            bound = str(node.pop(key))
            node["description"] = (node.get("description", "") + f" Bound: {key} {bound}.").strip()
    for value in node.values():
        _date_bounds(value)


def _year_at_least(year: str) -> str:
    """A regex for a four-digit year >= ``year`` (``1900`` -> ``(?:19[0-9]{2}|[2-9][0-9]{3})``)."""
    options = []
    for i in range(4):
        digit = int(year[i])
        if i == 3:
            options.append(f"{year[:3]}[{digit}-9]")
        elif digit < 9:
            options.append(f"{year[:i]}[{digit + 1}-9][0-9]{{{3 - i}}}")
    return "(?:" + "|".join(options) + ")"
