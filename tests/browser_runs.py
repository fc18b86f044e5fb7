"""Which browser tests run on PostgreSQL too: the rest run in the SQLite run only.

A browser test drives screens through `metacrm serve` and Chromium; most of its time is
the browser and the server's pages, the same on either database, and what the data layer
does on PostgreSQL under those screens is covered by the web and API tests, which run on
both. So tests/conftest.py marks every test under tests/browser `browser`, and `.ci/run`'s
PostgreSQL run deselects `browser` unless the test's module is also marked `postgres_too`
(`pytestmark = pytest.mark.postgres_too`): a browser walk whose outcome depends on the
database — many rows written in bulk, schema changes on a running server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MARKER = "browser"
POSTGRES_TOO = "postgres_too"


def mark_browser_tests(items: list[pytest.Item], browser_root: Path) -> None:
    """Add the `browser` marker to each of `items` whose file is under `browser_root`."""
    root = browser_root.resolve()
    for item in items:
        if Path(item.path).resolve().is_relative_to(root):
            item.add_marker(MARKER)
