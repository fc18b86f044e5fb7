"""A marketing instance (SQLite, or PostgreSQL with METACRM_TEST_DATABASE_URL): the
shipped packs up to marketing, test roles, a clock the test sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from mkt_harness import Marketing, marketing_documents

from database_harness import postgres_schema, schema_url
from metacrm.composition import build_services
from web_harness import settings_for


@pytest.fixture(scope="package")
def mkt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Marketing]:
    root = tmp_path_factory.mktemp("mkt")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'm.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        services = build_services(settings_for(url, root))
        world = Marketing(services)
        services.clock = lambda: world.now
        try:
            services.metadata.apply(marketing_documents(), author="test")
            yield world
        finally:
            services.close()
