"""The code runs on the oldest Python that pyproject.toml declares (3.10): no 3.11+ stdlib or syntax.

No 3.10 interpreter is available offline, so every project .py file is parsed and checked
for what 3.11 added: the tomllib module, names such as datetime.UTC or typing.Self, the
exception-group builtins and `except*`. An import guarded by `except ImportError` (or
ModuleNotFoundError) is a fallback and allowed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEW_IN_311_MODULES = {"tomllib", "wsgiref.types"}
NEW_IN_311_NAMES = {
    "datetime": {"UTC"}, "enum": {"StrEnum", "ReprEnum", "verify", "EnumCheck", "FlagBoundary", "global_enum"},
    "typing": {"Self", "LiteralString", "Never", "assert_never", "reveal_type", "Required", "NotRequired",
               "TypeVarTuple", "Unpack", "dataclass_transform", "assert_type", "get_overloads", "clear_overloads"},
    "hashlib": {"file_digest"}, "asyncio": {"TaskGroup", "timeout", "Runner", "Barrier"},
    "contextlib": {"chdir"}, "operator": {"call"}, "logging": {"getLevelNamesMapping"},
}
NEW_IN_311_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}


def _declared_floor() -> tuple[int, int]:
    text = (ROOT / "pyproject.toml").read_text()
    major, minor = re.search(r'requires-python\s*=\s*">=\s*(\d+)\.(\d+)', text).groups()
    return int(major), int(minor)


def _guarded(node: ast.AST, parents: dict) -> bool:
    """Inside a `try` whose handlers catch ImportError / ModuleNotFoundError."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                names = {getattr(n, "id", None) for n in ast.walk(handler.type)} if handler.type else {"ImportError"}
                if names & {"ImportError", "ModuleNotFoundError"}:
                    return True
    return False


def newer_than_310(source: str) -> list[str]:
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in NEW_IN_311_MODULES and not _guarded(node, parents)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in NEW_IN_311_MODULES and not _guarded(node, parents):
                found.append(f"from {node.module} import ...")
            new = NEW_IN_311_NAMES.get(node.module, set())
            found += [f"from {node.module} import {a.name}" for a in node.names if a.name in new and not _guarded(node, parents)]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in NEW_IN_311_NAMES.get(node.value.id, set()):
                found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in NEW_IN_311_BUILTINS:
            found.append(node.id)
        elif type(node).__name__ == "TryStar":
            found.append("except*")
    return found


def test_the_checker_finds_311_features():
    assert newer_than_310("import tomllib\nfrom datetime import UTC\nimport typing\nx: typing.Self\n") == [
        "import tomllib", "from datetime import UTC", "typing.Self"]
    assert newer_than_310("try:\n    import tomllib\nexcept ModuleNotFoundError:\n    tomllib = None\n") == []


@pytest.mark.skipif(_declared_floor() > (3, 10), reason="the declared floor is newer than 3.10")
def test_no_python_311_features_in_the_project():
    files = [p for folder in ("src", "tests", "benchmarks", "training", "datasets") for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 50
    problems = {str(p.relative_to(ROOT)): found for p in files if (found := newer_than_310(p.read_text()))}
    assert problems == {}
