"""The contract is the truth: complete enough for a third party to generate a client from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.api.app import PUBLIC_PATHS, create_app
from services.cli import EVENTS, event_documents, openapi_document
from services.core.config import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi.json"


@pytest.fixture(scope="module")
def generated() -> str:
    """The contract the app generates (about 1.5 s of CPU: once for the module)."""
    return openapi_document()


@pytest.fixture(scope="module")
def document(generated: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(generated)
    return loaded


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_committed_contract_matches_the_app(generated: str) -> None:
    assert CONTRACT.read_text(encoding="utf-8") == generated, "run `make contract` and commit it"


def test_committed_event_schemas_match_the_event_models() -> None:
    """``contracts/events/<type>.json``: one JSON Schema per webhook event type, generated from its model."""
    committed = {p.name: p.read_text(encoding="utf-8") for p in EVENTS.glob("*.json")}
    assert committed == event_documents(), "run `make contract` and commit contracts/events"
    assert len(committed) == 10


def test_every_operation_is_named_tagged_summarised_and_typed(document: dict[str, Any]) -> None:
    ids = []
    for path, method, op in _operations(document):
        where = f"{method.upper()} {path}"
        assert op.get("operationId"), where
        ids.append(op["operationId"])
        assert op.get("tags"), where
        assert op.get("summary"), where
        assert op.get("description"), where
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, where
        for code in success:
            if code != "204":
                assert op["responses"][code].get("content"), f"{where} {code} has no typed body"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_error_is_documented_as_problem_json(document: dict[str, Any]) -> None:
    """Problem+json everywhere; on the FHIR face (``/fhir/``) a FHIR OperationOutcome instead."""
    for path, method, op in _operations(document):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        if path not in ("/healthz", "/fhir/metadata"):
            assert errors, f"{method.upper()} {path} documents no error responses"
        media = "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"
        for code, response in errors.items():
            assert list(response["content"]) == [media], f"{method.upper()} {path} {code}"
        if path not in PUBLIC_PATHS:
            assert "401" in errors, f"{method.upper()} {path} must document 401"
            assert op.get("security"), f"{method.upper()} {path} declares no security"


def test_security_schemes_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2"]["flows"]["password"]["tokenUrl"] == "/oauth/token"
    assert "clientCredentials" in schemes["OAuth2"]["flows"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


def test_no_route_is_unauthenticated_unless_public(settings: Settings) -> None:
    from fastapi.routing import APIRoute

    from services.api.deps import authenticate

    def depends_on(dependant: Any, target: Any) -> bool:
        return any(d.call is target or depends_on(d, target) for d in dependant.dependencies)

    from fastapi.routing import iter_route_contexts

    app = create_app(settings)
    # FastAPI includes routers lazily: app.routes holds the routers, iter_route_contexts the routes.
    routes = [(c.path_format, c.original_route) for c in iter_route_contexts(app.routes)]
    api_routes = [(path, route) for path, route in routes if isinstance(route, APIRoute)]
    assert len(api_routes) > 50
    unguarded = [
        path for path, route in api_routes if path not in PUBLIC_PATHS and not depends_on(route.dependant, authenticate)
    ]
    assert unguarded == []


PERIOD_CHANGES = [
    ("/institutions/{institution_id}/stewards", "post"),
    ("/institution-stewards/{steward_id}", "patch"),
    ("/teams/{team_id}/members", "post"),
    ("/team-members/{member_id}", "patch"),
    ("/team-backings", "post"),
    ("/team-backings/{backing_id}", "patch"),
    ("/community-roles", "post"),
    ("/community-roles/{role_id}", "patch"),
    ("/pairings", "post"),
    ("/pairings/{pairing_id}", "patch"),
]


@pytest.mark.parametrize(("path", "method"), PERIOD_CHANGES)
def test_every_period_write_documents_period_overlap(document: dict[str, Any], path: str, method: str) -> None:
    assert "`period_overlap`" in document["paths"][path][method]["responses"]["409"]["description"]


def test_assignments_document_their_own_kind_of_overlap(document: dict[str, Any]) -> None:
    for path, method in (("/assignments", "post"), ("/assignments/{assignment_id}", "patch")):
        assert "`assignment_overlap`" in document["paths"][path][method]["responses"]["409"]["description"]


# ---------------------------------------------------------------- the whole truth (issue 9, items 1-8)


def test_the_contract_is_valid_openapi(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(document)


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, kind, name = node["$ref"].split("/")[1:]
        node = document[section][kind][name]
    return node


def _headers(document: dict[str, Any], response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name.lower(): _resolve(document, h) for name, h in response.get("headers", {}).items()}


def test_every_response_declares_its_request_id_and_auth_and_retry_headers(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        for status, response in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            headers = _headers(document, response)
            assert headers["x-request-id"]["required"], where
            if status == "401":
                assert headers["www-authenticate"]["required"], where
            if status in ("429", "503"):
                assert headers["retry-after"]["schema"]["type"] == "integer", where


def test_records_are_answered_with_a_declared_etag_and_location(document: dict[str, Any]) -> None:
    create = document["paths"]["/org-units"]["post"]["responses"]
    for status in ("200", "201"):
        headers = _headers(document, create[status])
        assert {"etag", "location", "x-request-id"} <= set(headers), status
    assert "idempotent-replayed" in _headers(document, create["200"])
    update = _headers(document, document["paths"]["/org-units/{unit_id}"]["patch"]["responses"]["200"])
    assert update["etag"]["required"]
    assert update["etag"]["schema"]["pattern"]
    close = _headers(document, document["paths"]["/reports/{report_id}/close"]["post"]["responses"]["200"])
    assert {"etag", "location"} <= set(close)  # through the route's own helper, found one call deep
    listing = _headers(document, document["paths"]["/org-units"]["get"]["responses"]["200"])
    assert "etag" not in listing
    # A generated client reads the ETag typed, too: every body answered with one carries `version`.
    for path, method, op in _operations(document):
        for status, response in op["responses"].items():
            if "ETag" in response.get("headers", {}):
                body = response["content"]["application/json"]["schema"]
                for option in [body, *body.get("oneOf", []), *body.get("anyOf", [])]:
                    if "$ref" in option:
                        schema = _resolve(document, option)
                        assert "version" in schema["properties"], f"{method.upper()} {path} {status}"


def test_if_match_is_required_with_its_pattern_wherever_428_is_answered(document: dict[str, Any]) -> None:
    found = 0
    for path, method, op in _operations(document):
        if_match = [p for p in op.get("parameters", []) if p["in"] == "header" and p["name"].lower() == "if-match"]
        if "428" in op["responses"]:
            found += 1
            assert if_match, f"{method.upper()} {path}"
            assert if_match[0]["required"], f"{method.upper()} {path}"
            assert if_match[0]["schema"]["pattern"], f"{method.upper()} {path}"
    assert found >= 15
    # Checked after scope by the lifecycle kit (404 before 428), still required in the contract.
    close = document["paths"]["/reports/{report_id}/close"]["post"]
    assert any(p["name"].lower() == "if-match" and p["required"] for p in close["parameters"])


def test_cursors_are_opaque_with_a_bounded_length(document: dict[str, Any]) -> None:
    cursors = [
        p
        for _, _, op in _operations(document)
        for p in op.get("parameters", [])
        if p["in"] == "query" and p["name"] in ("cursor", "since")
    ]
    assert len(cursors) >= 8
    for parameter in cursors:
        assert "Opaque" in parameter["description"]
        assert parameter["schema"]["maxLength"] == 500


def test_every_free_text_field_of_a_request_refuses_control_characters(document: dict[str, Any]) -> None:
    from services.core.text import NO_CONTROL_PATTERN

    schemas = document["components"]["schemas"]
    checked = 0
    for _, _, op in _operations(document):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None:
            continue
        for name in _schema_names(document, content["schema"]):
            for field, prop in schemas[name].get("properties", {}).items():
                for option in [prop, *prop.get("anyOf", [])]:
                    if option.get("type") == "string":
                        checked += 1
                        assert {"pattern", "format", "enum", "const"} & option.keys(), f"{name}.{field}"
    assert checked > 50
    assert schemas["OrgUnitCreate"]["properties"]["name"]["pattern"] == NO_CONTROL_PATTERN


def _schema_names(document: dict[str, Any], node: Any, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in seen:
            name = ref.rsplit("/", 1)[1]
            seen.add(name)
            _schema_names(document, document["components"]["schemas"][name], seen)
        for value in node.values():
            _schema_names(document, value, seen)
    elif isinstance(node, list):
        for value in node:
            _schema_names(document, value, seen)
    return seen


def test_every_status_the_server_answers_is_documented(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        where = f"{method.upper()} {path}"
        if "requestBody" in op:
            assert {"400", "413", "422"} <= set(op["responses"]), where
        if path not in ("/healthz", "/fhir/metadata"):  # neither reads the database
            assert "503" in op["responses"], where


def test_fields_the_server_always_sends_are_required(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ReportRead", "ReportStatusRead"):
        assert "view" in schemas[name]["required"], name
    assert "token_type" in schemas["TokenResponse"]["required"]
    answered: set[str] = set()
    for _, _, op in _operations(document):
        for response in op["responses"].values():
            answered |= _schema_names(document, response.get("content", {}))
    sent: set[str] = set()
    for _, _, op in _operations(document):
        sent |= _schema_names(document, op.get("requestBody", {}))
    answered -= {"Problem", "ProblemField"} | sent  # a schema also sent keeps its optional fields
    for name in answered:
        schema = schemas[name]
        assert set(schema.get("properties", {})) == set(schema.get("required", [])), name
        for field, prop in schema.get("properties", {}).items():
            if any(option.get("type") == "null" for option in prop.get("anyOf", [])):
                assert "null" in prop.get("description", ""), f"{name}.{field} may be null: say so"


def test_servers_license_and_public_operations(document: dict[str, Any]) -> None:
    assert document["servers"]
    assert document["info"]["license"]["name"]
    for path, method, op in _operations(document):
        if path in PUBLIC_PATHS:
            assert op["security"] == [], f"{method.upper()} {path}"


def test_every_workbook_is_bytes_a_generic_client_can_read(document: dict[str, Any]) -> None:
    workbooks = [
        operation["responses"]["200"]["content"]
        for item in document["paths"].values()
        for operation in item.values()
        if any("spreadsheetml" in media for media in operation["responses"].get("200", {}).get("content", {}))
    ]
    assert len(workbooks) >= 3  # the roster, volunteer hours, supervision snapshots
    for content in workbooks:
        assert "application/octet-stream" in content
        assert all(media["schema"] == {"type": "string", "format": "binary"} for media in content.values())


def test_schema_names_are_unique_short_names(document: dict[str, Any]) -> None:
    """Two models of one name make FastAPI fall back to module paths, renaming a schema clients know."""
    assert [name for name in document["components"]["schemas"] if "__" in name] == []


def test_the_token_endpoint_declares_no_store_on_every_answer(document: dict[str, Any]) -> None:
    for status, response in document["paths"]["/oauth/token"]["post"]["responses"].items():
        headers = _headers(document, response)
        assert headers["cache-control"]["schema"]["enum"] == ["no-store"], status
        assert headers["pragma"]["schema"]["enum"] == ["no-cache"], status


def test_request_dates_and_datetimes_refuse_numbers(settings: Settings) -> None:
    """Every date/datetime a request carries (body field or query parameter) is a guarded type."""
    import importlib
    import pkgutil
    from typing import Annotated, get_args, get_origin

    from fastapi.routing import iter_route_contexts

    import services.core
    from services.core.text import RequestModel, is_temporal, reject_numbers

    def guarded(annotation: Any, metadata: list[Any]) -> bool:
        if any(getattr(m, "func", None) is reject_numbers for m in metadata):
            return True
        if get_origin(annotation) is Annotated:
            return guarded(get_args(annotation)[0], list(annotation.__metadata__))
        return any(guarded(arg, []) for arg in get_args(annotation))

    for module in pkgutil.walk_packages(services.core.__path__, "services.core."):
        if module.name.endswith(".schemas"):
            importlib.import_module(module.name)

    def subclasses(cls: type) -> list[type]:
        return [sub for direct in cls.__subclasses__() for sub in (direct, *subclasses(direct))]

    unguarded = [
        f"{model.__name__}.{name}"
        for model in subclasses(RequestModel)
        for name, field in model.model_fields.items()  # type: ignore[attr-defined]
        if is_temporal(field.annotation) and not guarded(field.annotation, field.metadata)
    ]
    app = create_app(settings)
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context.original_route, "dependant", None)
        if dependant is None:
            continue
        for param in _all_query_params(dependant):
            if is_temporal(param.field_info.annotation) and not guarded(
                param.field_info.annotation, param.field_info.metadata
            ):
                unguarded.append(f"{context.path_format} ?{param.alias}")
    assert unguarded == []


def _all_query_params(dependant: Any) -> list[Any]:
    return [*dependant.query_params, *(p for sub in dependant.dependencies for p in _all_query_params(sub))]


def test_date_bounds_are_said_in_json_schema(document: dict[str, Any]) -> None:
    """No pydantic-only keyword (`ge: "1900-01-01"`) leaks in; a year bound becomes a pattern."""
    import re

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert not {"ge", "gt", "le", "lt"} & node.keys(), node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    birth = next(
        option
        for option in document["components"]["schemas"]["ResidentCreate"]["properties"]["birth_on"]["anyOf"]
        if option.get("type") == "string"
    )
    assert re.match(birth["pattern"], "1900-01-01")
    assert not re.match(birth["pattern"], "1899-12-31")
