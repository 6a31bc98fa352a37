"""domain/ is pure rules: no database, web framework, network, queue, or outer-layer imports."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import canceldesk.domain

DOMAIN_DIR = Path(canceldesk.domain.__file__).parent
DOMAIN_PACKAGE = "canceldesk.domain"
FORBIDDEN_ROOTS = {"sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "httpx", "requests", "redis",
                   "huey", "psycopg", "psycopg2", "jinja2", "urllib3", "aiohttp", "socket"}
FORBIDDEN_LAYERS = ("canceldesk.adapters", "canceldesk.service_layer", "canceldesk.entrypoints")


def _resolve(module: str | None, level: int, package: str) -> str:
    if not level:
        return module or ""
    base = package.split(".")[: len(package.split(".")) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imported_modules(source: str, package: str = DOMAIN_PACKAGE) -> set[str]:
    """Every module a source imports, relative imports resolved, plus importlib/__import__ strings."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(node.module, node.level, package)
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def violations(modules: set[str]) -> set[str]:
    return {m for m in modules
            if m.split(".")[0] in FORBIDDEN_ROOTS
            or any(m == layer or m.startswith(layer + ".") for layer in FORBIDDEN_LAYERS)}


DOMAIN_FILES = sorted(DOMAIN_DIR.glob("*.py"))


def test_the_domain_files_are_all_scanned():
    names = {p.name for p in DOMAIN_FILES}
    assert {"money.py", "identifiers.py", "model.py", "lifecycle.py", "policy.py", "prechecks.py",
            "settlement.py", "messages.py", "execution.py"} <= names


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=[p.name for p in DOMAIN_FILES])
def test_a_domain_module_imports_no_framework_database_network_or_outer_layer(path):
    bad = violations(imported_modules(path.read_text(encoding="utf-8")))
    assert not bad, f"{path.name} imports {sorted(bad)}: domain/ must stay pure"


@pytest.mark.parametrize("source", [
    "import sqlalchemy",
    "from sqlalchemy.orm import Session",
    "import fastapi",
    "from starlette.requests import Request",
    "import httpx",
    "import requests",
    "from redis import Redis",
    "import huey",
    "import psycopg",
    "from canceldesk.adapters import orm",
    "from canceldesk.service_layer.uow import UnitOfWork",
    "import canceldesk.entrypoints.api",
    "from ..adapters import orm",
    "from ..service_layer import requests",
    "from ..entrypoints.api import deps",
    "def f():\n    import sqlalchemy",
    "import importlib\nimportlib.import_module('redis')",
])
def test_the_scanner_catches_each_forbidden_import(source):
    assert violations(imported_modules(source)), source


@pytest.mark.parametrize("source", [
    "from .money import Money", "from . import model", "import phonenumbers",
    "from stdnum.cn import ric", "from zoneinfo import ZoneInfo", "from canceldesk.domain.model import Line",
])
def test_the_scanner_allows_pure_imports(source):
    assert not violations(imported_modules(source)), source
