"""Dependencies point inward: the inner layers never import the outer ones or web/DB libraries.

The rules of docs/architecture.md, checked on the source so a stray import fails CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "platform" / "metacrm"

FRAMEWORKS = ("flask", "flask_appbuilder", "sqlalchemy", "alembic", "marshmallow", "rq", "redis")

# module glob (relative to platform/metacrm) -> import prefixes it must not use
RULES: dict[str, tuple[str, ...]] = {
    "kernel/*.py": (*FRAMEWORKS, "metacrm.metadata", "metacrm.criteria", "metacrm.fieldtypes",
                    "metacrm.storage", "metacrm.services", "metacrm.cli"),
    "metadata/*.py": (*FRAMEWORKS, "metacrm.fieldtypes", "metacrm.storage", "metacrm.services",
                      "metacrm.cli", "metacrm.criteria.sql", "metacrm.criteria.predicate"),
    "criteria/tree.py": (*FRAMEWORKS, "metacrm.fieldtypes", "metacrm.storage"),
    "criteria/context.py": (*FRAMEWORKS, "metacrm.fieldtypes", "metacrm.storage"),
    "criteria/predicate.py": (*FRAMEWORKS, "metacrm.storage"),
    "fieldtypes/*.py": ("flask", "metacrm.storage", "metacrm.services", "metacrm.cli"),
    "storage/**/*.py": ("flask", "metacrm.services", "metacrm.cli"),
    "services/**/*.py": ("flask", "metacrm.cli"),
    # The public extension API leads nowhere near the engine: kernel errors and itself only.
    "extension/*.py": (*FRAMEWORKS, "metacrm.metadata", "metacrm.criteria", "metacrm.fieldtypes",
                       "metacrm.storage", "metacrm.access", "metacrm.services", "metacrm.api",
                       "metacrm.web", "metacrm.automation", "metacrm.jobs", "metacrm.identity",
                       "metacrm.composition", "metacrm.app", "metacrm.extension_host",
                       "metacrm.cli", "metacrm.settings"),
    # Screens are thin: they call services (which apply access), never storage directly.
    "web/**/*.py": ("metacrm.storage", "metacrm.cli", "metacrm.access.scoped_repository"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


CASES = [
    (pattern, path)
    for pattern in RULES
    for path in sorted(PACKAGE.glob(pattern))
]


@pytest.mark.parametrize(("pattern", "path"), CASES, ids=lambda v: str(v))
def test_module_respects_its_layer(pattern: str, path: Path) -> None:
    forbidden = RULES[pattern]
    offending = sorted(
        name
        for name in imported_modules(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in forbidden)
    )
    assert not offending, f"{path.relative_to(PACKAGE)} imports {offending} (layer rule {pattern})"


def test_platform_is_a_source_root_not_a_package() -> None:
    assert not (PACKAGE.parent / "__init__.py").exists()
