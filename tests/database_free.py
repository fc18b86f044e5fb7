"""Which tests touch no suite database, so that one run of them is enough.

The suite runs twice in CI, on SQLite and on PostgreSQL (`METACRM_TEST_DATABASE_URL`). A
test that never reaches the suite's database — a kernel, metadata, criteria or field-type
unit, a lint-like check, a test that builds its own SQLite file — does the same thing in
both runs, so tests/conftest.py marks it `no_database` and `.ci/run`'s PostgreSQL run
deselects that marker (the SQLite run still runs everything: no coverage is lost).

A test reaches the suite's database when any fixture it uses, directly or through other
fixtures, is one of `DATABASE_FIXTURES`, or when its own module, the module of any fixture
it uses, or the test harness code those import (transitively) names one of `DATABASE_WORDS`
(module-scoped fixtures and harnesses that read `METACRM_TEST_DATABASE_URL` themselves). The
source check is per module, so it errs towards running a test on both databases.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any

import pytest

MARKER = "no_database"
DATABASE_FIXTURES = frozenset(
    {"database_url", "isolated_database_url", "module_database_url", "engine",
     "postgres_engine"})
DATABASE_WORDS = (
    "METACRM_TEST_DATABASE_URL",
    "METACRM_TEST_POSTGRES_URL",
    "postgres_schema",
    "schema_url",
    "getfixturevalue",  # a fixture chosen at run time (e.g. `engine` or `postgres_engine`)
)


def mark_database_free(items: list[pytest.Item], roots: Sequence[Path]) -> None:
    """Add the `no_database` marker to each of `items` that cannot reach a suite database;
    `roots` are the test directories (the harness code whose source is read)."""
    harness = tuple(root.resolve() for root in roots)
    for item in items:
        if not uses_database(item, harness):
            item.add_marker(MARKER)


def uses_database(item: pytest.Item, roots: tuple[Path, ...]) -> bool:
    if not isinstance(item, pytest.Function):
        return True  # doctests and plugin items: not ours to judge
    if DATABASE_FIXTURES.intersection(item.fixturenames):
        return True
    definitions = getattr(item, "_fixtureinfo", None)
    if definitions is None:
        return True
    functions = [item.function] + [
        fixturedef.func for fixturedefs in definitions.name2fixturedefs.values()
        for fixturedef in fixturedefs]
    # By the function, not by module name: every conftest.py is a module named `conftest`.
    return any(_reaches_database(_origin(inspect.unwrap(function)), roots)
               for function in functions)


Namespace = tuple[str, dict[str, Any]]  # a source file and the globals its code runs with


def _origin(value: object) -> Namespace | None:
    """Where `value` was defined: a module, a function's module, or a class's module."""
    if isinstance(value, ModuleType):
        location = getattr(value, "__file__", None)
        return (location, vars(value)) if location else None
    if isinstance(value, FunctionType):
        return value.__code__.co_filename, value.__globals__
    if isinstance(value, type):  # not getattr on any object: proxies (flask.g) would raise
        if value.__module__ != "conftest":
            module = sys.modules.get(value.__module__)
            return _origin(module) if module is not None else None
        for member in vars(value).values():  # which conftest.py: ask one of its methods
            if isinstance(member, FunctionType):
                return _origin(member)
    return None


_VERDICTS: dict[str, bool] = {}


def _reaches_database(start: Namespace | None, roots: tuple[Path, ...]) -> bool:
    """Whether the file `start` comes from, or test code its globals come from
    (transitively), names one of DATABASE_WORDS."""
    if start is None or _local_file(start[0], roots) is None:
        return False
    if start[0] not in _VERDICTS:
        _VERDICTS[start[0]] = any(
            word in _source(path) for path in _walk(start, roots) for word in DATABASE_WORDS)
    return _VERDICTS[start[0]]


def _walk(start: Namespace, roots: tuple[Path, ...]) -> set[Path]:
    files: set[Path] = set()
    pending = [start]
    while pending:
        location, namespace = pending.pop()
        path = _local_file(location, roots)
        if path is None or path in files:
            continue
        files.add(path)
        for value in list(namespace.values()):
            origin = _origin(value)
            if origin is not None and _local_file(origin[0], roots) not in files:
                pending.append(origin)
    return files


@cache
def _local_file(location: str, roots: tuple[Path, ...]) -> Path | None:
    path = Path(location).resolve()
    if "site-packages" in path.parts or not any(path.is_relative_to(r) for r in roots):
        return None
    return path


@cache
def _source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return DATABASE_WORDS[0]  # unreadable: assume it reaches the database
