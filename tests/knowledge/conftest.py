"""One knowledge base instance for the package (tests/knowledge/kb_harness.py): SQLite, or
PostgreSQL in a schema of its own when METACRM_TEST_DATABASE_URL names one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from kb_harness import ROLES, Kb, make_kb

from database_harness import postgres_schema, schema_url
from web_harness import open_web


@pytest.fixture(scope="package")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kb]:
    root = tmp_path_factory.mktemp("kb")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'kb.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        web = stack.enter_context(open_web(url, root, roles=ROLES))
        yield make_kb(web)
