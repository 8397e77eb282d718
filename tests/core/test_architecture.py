"""Dependencies point one way: api and worker import core; core imports neither, nor FastAPI or arq;
inside core, a domain imports only the platform and the domains below it (``LAYERS``)."""

from __future__ import annotations

import ast
import functools
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
CORE = SERVICES / "core"

FORBIDDEN = {
    "core": ("services.api", "services.worker", "services.dev", "fastapi", "starlette", "arq"),
    "api": ("services.worker", "services.dev"),
    "worker": ("services.api", "services.dev", "fastapi"),
    "load": ("services.api", "services.worker", "services.dev", "fastapi", "sqlalchemy"),
}


@functools.cache
def _parsed(source: str) -> ast.Module:
    """A source's syntax tree, parsed once: several tests walk every file of services/ (by text, so a file
    a test changes is parsed again)."""
    return ast.parse(source)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(_parsed(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_layers_import_only_downwards() -> None:
    offences = []
    for layer, banned in FORBIDDEN.items():
        for path in (SERVICES / layer).rglob("*.py"):
            for name in _imports(path):
                if name.startswith(banned):
                    offences.append(f"{path.relative_to(SERVICES)} imports {name}")
    assert not offences, offences


def test_nothing_reads_the_wall_clock_but_core_clock() -> None:
    offences = []
    for path in SERVICES.rglob("*.py"):
        if path.name == "clock.py" or "dev" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        for needle in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("):
            if needle in source:
                offences.append(f"{path.relative_to(SERVICES)}: {needle}")
    assert not offences, offences


# The order of services/core, lowest layer first: a package (or top-level module) may import packages
# of its own layer or of a lower one, never of a higher one. A new package must be placed here.
LAYERS: tuple[frozenset[str], ...] = (
    # the platform: knows no domain
    frozenset(
        {
            *("clock", "config", "db", "errors", "jobs", "logging", "pagination", "periods", "replay", "text"),
            *("versioning", "security", "audit", "deadlines", "notifications", "system", "lifecycle"),
            "metrics",
        }
    ),
    frozenset({"org"}),  # org units and the institutions sitting in them
    frozenset({"accounts"}),  # users, role grants (over org units and institutions), logins
    frozenset({"teams"}),  # people (linked to accounts), teams, memberships, stewards
    frozenset({"assignments"}),  # who serves which area when: responsibilities, community roles, pairings
    frozenset({"residents"}),
    frozenset({"signing", "reports"}),
    frozenset({"webhooks"}),  # subscriptions and the outbox (over org, teams' stewards, notifications)
    frozenset({"roster", "referrals"}),  # later domains: the roster; referrals (over residents, signing, reports)
    frozenset({"duties"}),  # the plan's standing duties (over teams, signing contacts); supervision reads them
    frozenset({"socialwork"}),  # medical social work: departments, cases (over residents, referrals, assignments)
    frozenset({"volunteers"}),  # volunteers, their shifts and hours, group work (over socialwork's departments)
    frozenset({"supervision"}),  # bulletins, roll-up, assessment, the ledger: over every domain below
    frozenset({"models"}),  # every model in one place, for Alembic
)


def _core_package(module: str) -> str | None:
    """``services.core.teams.models`` -> ``teams``; None outside core."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["services", "core"] and len(parts) > 2 else None


def _imported_core_packages(path: Path, core: Path) -> set[str]:
    """The core packages (and top-level core modules) a file imports, its own excluded."""
    rel = path.relative_to(core)
    own = rel.parts[0].removesuffix(".py")
    found: set[str] = set()
    for node in ast.walk(_parsed(path.read_text(encoding="utf-8"))):
        modules: Iterable[str] = ()
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                package = ["services", "core", *rel.parent.parts]
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            # ``from services.core import clock`` names the package in the alias
            modules = [f"{base}.{alias.name}" for alias in node.names] if base == "services.core" else [base]
        found.update(p for m in modules if (p := _core_package(m)) is not None)
    found.discard(own)
    return found


def core_import_graph(core: Path = CORE) -> dict[str, set[str]]:
    """Each module under ``core`` (path relative to it) -> the other core packages it imports."""
    return {
        path.relative_to(core).as_posix(): _imported_core_packages(path, core)
        for path in sorted(core.rglob("*.py"))
        if path.relative_to(core).as_posix() != "__init__.py"
    }


def _layer_of(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(module, package) pairs where a module imports a package of a higher layer."""
    return {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if _layer_of(target) > _layer_of(module.split("/")[0].removesuffix(".py"))
    }


def package_cycles(graph: dict[str, set[str]], ignore: Iterable[tuple[str, str]] = ()) -> list[list[str]]:
    """Cycles among core packages (strongly connected components of two or more), ``ignore`` left out."""
    skipped = set(ignore)
    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges.setdefault(module.split("/")[0].removesuffix(".py"), set()).update(
            t for t in targets if (module, t) not in skipped
        )
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_core_package_has_a_layer() -> None:
    packages = {path.name.removesuffix(".py") for path in CORE.iterdir() if path.suffix == ".py" or path.is_dir()}
    packages -= {"__init__", "__pycache__"}
    placed = set().union(*LAYERS)
    assert packages - placed == set(), "place the new package in LAYERS"
    assert placed - packages == set(), "LAYERS names a package that does not exist"
    assert sum(len(layer) for layer in LAYERS) == len(placed), "a package sits in two layers"


def test_no_core_package_imports_a_higher_layer() -> None:
    upward = sorted(upward_imports(core_import_graph()))
    assert not upward, (
        f"upward imports (move the code down, make it a parameter, or register a hook as assignments "
        f"does on teams in core/teams/hooks.py): {upward}"
    )


def test_no_import_cycle_between_core_packages() -> None:
    assert package_cycles(core_import_graph()) == []


def test_the_checker_fails_on_a_planted_upward_import(tmp_path: Path) -> None:
    core = tmp_path / "services" / "core"
    for name, source in {
        "org/__init__.py": "",
        "org/service.py": "from services.core.reports import service as reports\n",
        "reports/__init__.py": "",
        "reports/service.py": "from services.core.org.models import OrgUnit\nfrom services.core import clock\n",
        "teams/repository.py": "from ..residents import models\n",
        "residents/models.py": "",
        "clock.py": "",
    }.items():
        (core / name).parent.mkdir(parents=True, exist_ok=True)
        (core / name).write_text(source, encoding="utf-8")
    graph = core_import_graph(core)
    assert graph["reports/service.py"] == {"org", "clock"}
    assert upward_imports(graph) == {("org/service.py", "reports"), ("teams/repository.py", "residents")}
    assert package_cycles(graph) == [["org", "reports"]]
    assert package_cycles(graph, ignore={("org/service.py", "reports")}) == []


# A capability is found by its name: ``core/X``, ``api/routes/X.py``, ``worker/jobs/X.py``. The route and
# job modules named otherwise, and why:
NOT_A_CORE_PACKAGE = {
    # The OAuth 2 token endpoints (token, revoke; RFC 6749/7009) and /me: the platform's protocol that every
    # client speaks before it touches any domain (tokens live in core/security), kept apart from the account
    # administration in routes/accounts.py. They call core/accounts to log in.
    "api/routes/auth.py",
    # The FHIR R4 face (/fhir/...): a protocol, like auth, over core/referrals (core/referrals/fhir.py maps it);
    # it will carry other resources than referrals, so it is named after the standard, not one package.
    "api/routes/fhir.py",
}


@pytest.mark.parametrize("folder", ["api/routes", "worker/jobs"])
def test_route_and_job_modules_are_named_after_a_core_package(folder: str) -> None:
    packages = {path.name for path in CORE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    modules = {f"{folder}/{path.name}" for path in (SERVICES / folder).glob("*.py") if path.name != "__init__.py"}
    strays = sorted(m for m in modules - NOT_A_CORE_PACKAGE if m.rsplit("/", 1)[1].removesuffix(".py") not in packages)
    assert not strays, (
        f"name the module after the core package it serves (or explain it in NOT_A_CORE_PACKAGE): {strays}"
    )


def test_the_name_exceptions_exist() -> None:
    assert all((SERVICES / module).exists() for module in NOT_A_CORE_PACKAGE)


def _imported_modules(path: Path) -> set[str]:
    """Like ``_imports``, with ``from services import cli`` read as ``services.cli``."""
    names = _imports(path)
    for node in ast.walk(_parsed(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "services":
            names.update(f"services.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    ("entry_point", "importers"),
    [
        # started by the ``gridcare`` console script (pyproject) and ``python -m services.cli``
        ("services.cli", ()),
        # started by cli's ``dev`` command (``make run``); its modules use one another
        ("services.dev", ("cli.py", "dev/")),
        # started by cli's ``load`` command (``make load``): an HTTP client of a running API
        ("services.load", ("cli.py", "load/")),
    ],
)
def test_nothing_imports_cli_or_dev_but_their_entry_points(entry_point: str, importers: tuple[str, ...]) -> None:
    offences = []
    for path in SERVICES.rglob("*.py"):
        rel = path.relative_to(SERVICES).as_posix()
        if rel.startswith(importers):
            continue
        offences += [
            f"{rel} imports {name}"
            for name in _imported_modules(path)
            if name == entry_point or name.startswith(f"{entry_point}.")
        ]
    assert not offences, offences
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"gridcare": "services.cli:main"}


def test_migrations_import_no_models_and_no_domain() -> None:
    """A migration is frozen history: it may use platform helpers (config, PII crypto), never today's models."""
    offences = []
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        for name in _imports(path):
            package = _core_package(name)
            if name.startswith("services.") and (package not in LAYERS[0] or name.endswith(".models")):
                offences.append(f"{path.name} imports {name}")
    assert not offences, offences
