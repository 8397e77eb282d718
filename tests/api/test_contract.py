"""The contract is the truth: complete enough for a third party to generate a client from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.api.app import PUBLIC_PATHS, create_app
from services.cli import openapi_document
from services.core.config import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(openapi_document())
    return loaded


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_committed_contract_matches_the_app() -> None:
    assert CONTRACT.read_text(encoding="utf-8") == openapi_document(), "run `make contract` and commit it"


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

    app = create_app(settings)
    unguarded = [
        route.path
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.path not in PUBLIC_PATHS
        and not depends_on(route.dependant, authenticate)
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
