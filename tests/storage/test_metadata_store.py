"""The metadata store keeps every applied version: documents, author, comment, plan, time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from metacrm.kernel.errors import NotFound
from metacrm.metadata.documents import Document
from metacrm.storage import metadata_store
from metacrm.storage.system_tables import create_system_tables


def document(name: str, title: str = "Title") -> Document:
    body = {"kind": "entity", "version": 1, "name": name,
            "label": {"en": name, "ru": "имя"}, "plural_label": {"en": name, "ru": "имена"},
            "fields": [{"name": "title", "type": "text", "label": {"en": title, "ru": title}}]}
    return Document.from_body(body, source=f"/packs/crm/{name}.json", pack="crm")


@pytest.fixture
def connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.begin() as conn:
        create_system_tables(conn)
    with engine.begin() as conn:
        yield conn


def test_an_empty_store_has_no_version(connection: sa.Connection) -> None:
    assert metadata_store.latest_number(connection) == 0
    assert metadata_store.current(connection) is None
    assert metadata_store.history(connection) == []
    with pytest.raises(NotFound):
        metadata_store.get(connection, 1)


def test_versions_are_numbered_and_keep_their_documents(connection: sa.Connection) -> None:
    first = metadata_store.record_version(
        connection, documents=[document("company")], checksum="a" * 64, author="cli",
        comment="first", plan={"destructive": False, "operations": []},
    )
    second = metadata_store.record_version(
        connection, documents=[document("company", "Name"), document("person")],
        checksum="b" * 64, author="admin", comment=None,
        plan={"destructive": True, "operations": [{"op": "archive_column",
                                                   "destructive": True}]},
    )

    assert (first.number, second.number) == (1, 2)
    assert metadata_store.latest_number(connection) == 2
    live = metadata_store.current(connection)
    assert live is not None
    assert live.number == 2
    assert live.documents == (document("company", "Name"), document("person"))
    assert live.author == "admin"
    assert metadata_store.get(connection, 1).documents == (document("company"),)
    assert metadata_store.get(connection, 1).comment == "first"


def test_history_is_newest_first_with_utc_times(connection: sa.Connection) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    for checksum in ("a", "b", "c"):
        metadata_store.record_version(connection, documents=[], checksum=checksum * 64)

    history = metadata_store.history(connection)

    assert [v.number for v in history] == [3, 2, 1]
    assert all(v.created_at.tzinfo is not None and v.created_at >= start for v in history)
    assert history[0].describe().startswith("v3  ")


def test_history_line_counts_the_plan(connection: sa.Connection) -> None:
    metadata_store.record_version(
        connection, documents=[], checksum="a" * 64, author="cli", comment="drop website",
        plan={"operations": [{"destructive": True}, {"destructive": False}]},
    )
    (line,) = [v.describe() for v in metadata_store.history(connection)]
    assert "cli" in line
    assert "(2 operations, 1 destructive)" in line
    assert line.endswith("drop website")
