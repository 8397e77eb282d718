"""Dependencies point one way: api and worker import core; core imports neither, nor FastAPI or arq."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"

FORBIDDEN = {
    "core": ("services.api", "services.worker", "services.dev", "fastapi", "starlette", "arq"),
    "api": ("services.worker", "services.dev"),
    "worker": ("services.api", "services.dev", "fastapi"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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
