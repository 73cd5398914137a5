"""The layers point one way: library <- flows <- interfaces (DESIGN.md, STYLE.md).

src/medialib knows nothing of Prefect, the flows or the apps; flows never import the
apps. Checked on the source text (every import statement, also inside functions), so a
lazy import cannot hide a wrong direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "src" / "medialib"
FLOWS = ROOT / "flows"
APP = ROOT / "src" / "medialib_app"

FORBIDDEN = {
    LIBRARY: ("prefect", "medialib_flows", "flows", "medialib_app"),
    FLOWS: ("medialib_app",),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", list(FORBIDDEN), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(layer: Path):
    wrong = [f"{path.relative_to(ROOT)}:{line}: imports {name}"
             for path in sorted(layer.rglob("*.py"))
             for line, name in _imports(path)
             if name.split(".")[0] in FORBIDDEN[layer]]
    assert not wrong, "the library must not import flows, apps or Prefect; flows must not import apps:\n" + "\n".join(wrong)


def test_every_layer_has_code():
    """The check above would pass vacuously on a moved folder."""
    for layer in (LIBRARY, FLOWS, APP):
        assert any(layer.rglob("*.py")), layer
