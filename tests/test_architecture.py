"""The dependency rules of docs/ARCHITECTURE.md, checked on the source with ast."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "search": {"flask", "flask_login", "flask_wtf", "sqlalchemy", "lms", "essays", "review"},
    "lms": {"essays", "review", "search"},
    "essays": {"review"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_no_asset_from_the_internet():
    for folder in ("templates", "lms", "essays", "review"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".html", ".css", ".js", ".py"}:
                text = path.read_text(encoding="utf-8", errors="ignore")
                for marker in ("cdn.", "unpkg.com", "jsdelivr", "googleapis"):
                    assert marker not in text, f"{path} loads {marker}"
