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


# --- issue 17: one bridge to search/, no table names across packages, module-level imports ------------

OURS = {"lms", "essays", "review", "search"}
# Who may use whose tables: a package may name the tables of the packages it may import.
MAY_USE = {"lms": {"lms"}, "essays": {"essays", "lms"}, "review": {"review", "essays", "lms"}, "search": set()}
# Files that import our modules inside functions, and why (everything else imports at module level).
LATE_IMPORTS = {
    "lms/__init__.py": "create_app imports the host modules once the config is known",
    "lms/cli.py": "each command imports what it runs, so `flask --help` stays quick",
    "lms/api.py": "lms.api is imported by the modules it would import (jobs, courses, security)",
    "lms/pages.py": "error handlers use lms.api, which imports lms.pages' neighbours",
    "lms/auth.py": "the unauthorized handler answers JSON through lms.api (import cycle)",
    "lms/lti/__init__.py": "the LTI parts register only when LTI is switched on",
    "essays/_extract_worker.py": "runs in a forked child that must import as little as possible",
    "essays/extraction.py": "the worker module is imported in the child only",
    "review/tagging/suggestions.py": "suggestions and theme_model use each other (the learnt model suggests)",
    "review/tagging/theme_model.py": "suggestions and theme_model use each other (the model scans versions)",
}


def _py_files(package: str):
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" not in path.parts:
            yield path


def test_only_essays_indexing_imports_search():
    offenders = [str(path.relative_to(ROOT)) for package in ("lms", "essays", "review")
                 for path in _py_files(package) if "search" in imported_roots(path)]
    assert offenders == ["essays/indexing.py"]


def _table_names() -> dict[str, str]:
    owners = {}
    for package in OURS:
        for path in _py_files(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__tablename__" for t in node.targets)
                        and isinstance(node.value, ast.Constant)):
                    owners[node.value.value] = package
    return owners


def _named_tables(tree: ast.AST):
    """Strings that name a table: table("x"), Table("x"), ForeignKey("x.id"), `… == "x"` comparisons."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("table", "Table", "ForeignKey") and isinstance(node.args[0].value, str):
                yield node.args[0].value.split(".")[0]
        elif isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield part.value


def test_no_table_names_of_another_package():
    owners = _table_names()
    assert {"essay", "essay_version", "unit", "tag"} <= set(owners)
    offenders = []
    for package in OURS:
        for path in _py_files(package):
            for name in _named_tables(ast.parse(path.read_text(encoding="utf-8"))):
                owner = owners.get(name)
                if owner is not None and owner not in MAY_USE[package]:
                    offenders.append(f"{path.relative_to(ROOT)} names the table {name!r} of {owner}")
    assert not offenders, "\n".join(offenders)


def test_our_modules_are_imported_at_module_level():
    offenders = []
    for package in OURS:
        for path in _py_files(package):
            relative = str(path.relative_to(ROOT))
            if relative in LATE_IMPORTS:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                        roots = {node.module.split(".")[0]}
                    elif isinstance(node, ast.Import):
                        roots = {alias.name.split(".")[0] for alias in node.names}
                    else:
                        continue
                    if roots & OURS:
                        offenders.append(f"{relative}:{node.lineno} in {function.name}()")
    assert not offenders, "import these at the top of the module:\n" + "\n".join(offenders)
