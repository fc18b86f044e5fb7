"""A service desk instance: the shipped contacts and service packs, a support team, a
clock the test sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from desk_harness import Desk, desk_documents

from database_harness import postgres_schema, schema_url
from metacrm.composition import build_services
from web_harness import settings_for


@pytest.fixture(scope="package")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("desk")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'd.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        yield from _desk(url, root)


def _desk(url: str, root: Path) -> Iterator[Desk]:
    services = build_services(settings_for(url, root))
    desk = Desk(services)
    services.clock = lambda: desk.now
    try:
        services.metadata.apply(desk_documents(), author="test")
        with services.engine.begin() as conn:
            services.teams.create_team(conn, "support")
            services.teams.add_member(conn, "support", "17")
        yield desk
    finally:
        services.close()
