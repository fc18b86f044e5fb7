"""A process notices a new metadata version applied by another one without asking the
database on every request: PostgreSQL LISTEN/NOTIFY, with the plain query as fallback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine

LABEL = {"en": "Gadget", "ru": "Штука"}


def gadget(*extra: str) -> list[Document]:
    fields = [{"name": name, "type": "text", "label": LABEL} for name in ("title", *extra)]
    body = {"kind": "entity", "name": "gadget", "version": 1, "label": LABEL,
            "fields": fields}
    return [Document.from_body(body, source="gadget.json", pack="test")]


def eventually(check: Callable[[], Any], what: str, deadline: float = 10.0) -> Any:
    end = time.monotonic() + deadline
    while not (value := check()):
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


@contextmanager
def version_queries(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "max(metacrm_metadata_versions.number)" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)


def test_a_watching_process_sees_new_versions_without_a_query_per_call(
        postgres_engine: sa.Engine) -> None:
    registry = default_registry()
    url = postgres_engine.url.render_as_string(hide_password=False)
    admin = MetadataService(postgres_engine, registry)  # "another process" applies versions
    admin.initialize()
    admin.apply(gadget(), author="test")
    web_engine = create_database_engine(url)
    web = MetadataService(web_engine, registry)
    try:
        web.watch_versions()
        assert web.live().number == 1
        eventually(lambda: web._cache.watcher and web._cache.watcher.latest() == 1,
                   "the watcher to listen")

        with version_queries(web_engine) as queries:
            for _ in range(20):
                assert web.live().number == 1
        assert queries == []

        admin.apply(gadget("colour"), author="test")
        live = eventually(lambda: (v := web.live()).number == 2 and v, "version 2 to be seen")
        assert live.model.entity("gadget").has_field("colour")

        web.close()  # no watcher: every call asks the database again
        with version_queries(web_engine) as queries:
            assert web.live().number == 2
        assert len(queries) == 1
    finally:
        web.close()
        web_engine.dispose()


def test_versions_of_another_schema_do_not_confuse_the_watcher(
        postgres_engine: sa.Engine) -> None:
    registry = default_registry()
    url = postgres_engine.url.render_as_string(hide_password=False)
    ours = MetadataService(postgres_engine, registry)
    ours.initialize()
    ours.apply(gadget(), author="test")
    web_engine = create_database_engine(url)
    web = MetadataService(web_engine, registry)
    try:
        web.watch_versions()
        eventually(lambda: web._cache.watcher and web._cache.watcher.latest() == 1,
                   "the watcher to listen")
        with postgres_engine.begin() as conn:  # another installation's version 7
            conn.execute(sa.select(sa.func.pg_notify("metacrm_metadata", "elsewhere:7")))
        time.sleep(0.3)
        assert web._cache.watcher is not None and web._cache.watcher.latest() == 1
    finally:
        web.close()
        web_engine.dispose()
