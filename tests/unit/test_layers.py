"""The layers keep to their jobs: the API layer never reaches the database driver (routes hand a unit of work
to the services), and no use case takes more than 8 parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "inventory_sync"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "api").rglob("*.py")), ids=lambda p: p.name)
def test_the_api_layer_does_not_import_the_database_driver(path: Path) -> None:
    assert not {name for name in _imports(path) if name.split(".")[0] in ("psycopg", "psycopg_pool")}


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=lambda p: p.name)
def test_no_service_function_takes_more_than_8_parameters(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            count = (len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs) + bool(args.vararg)
                     + bool(args.kwarg))
            assert count <= 8, f"{path.name}:{node.lineno} {node.name} takes {count}"
