"""Every debrismap name the benchmark and training scripts import exists.

Those scripts import inside functions (heavy modules load only when needed), so a module moved
in a refactor breaks them only when that function runs, long after CI (bench_loro's import of
the old debrismap.evaluate.boxes did). Static: parses the files, imports only debrismap.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*REPO.glob("benchmarks/*.py"), *REPO.glob("training/*.py")])


def debrismap_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) for every `import debrismap...` / `from debrismap... import`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "debrismap":
            out += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "debrismap"]
    return out


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_imports_resolve(script):
    missing = []
    for line, module, name in debrismap_imports(script):
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"line {line}: {module} ({exc})")
            continue
        if name and not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"line {line}: {module}.{name}")
    assert not missing, f"{script.name}: " + "; ".join(missing)
