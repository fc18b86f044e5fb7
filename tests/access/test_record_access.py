"""`RecordAccess`: the record repository of a model is reachable only through the access
layer — per subject (scoped) or as the system — never as a public attribute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.record_access import RecordAccess
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import create_system_tables
from metacrm.storage.tables import build_record_tables

LABEL = {"en": "L", "ru": "L"}
NOTE = {
    "kind": "entity", "name": "note", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [{"name": "text", "type": "text", "label": LABEL},
               {"name": "secret", "type": "text", "label": LABEL}],
}
WRITER = {"kind": "role", "name": "writer", "version": 1, "label": LABEL,
          "entities": {"note": {"read": "own", "create": "own",
                                "fields": {"secret": "hidden"}}}}


def record_access(engine: sa.Engine) -> RecordAccess:
    registry = default_registry()
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t")
                 for b in (NOTE, WRITER)]
    model = compile_model(documents, registry)
    tables = build_record_tables(model, registry)
    with engine.begin() as conn:
        create_system_tables(conn)
        tables.metadata.create_all(conn)
    return RecordAccess(model, tables, registry, clock=lambda: datetime.now(UTC))


def public_values(holder: object) -> list[Any]:
    return [getattr(holder, name) for name in dir(holder)
            if not name.startswith("_") and not callable(getattr(holder, name))]


def test_no_public_attribute_leads_to_the_raw_repository(engine: sa.Engine) -> None:
    access = record_access(engine)
    scoped = access.scoped(AccessSubject("ann", "ann", ("writer",)))
    for holder in (access, scoped, access.system):
        for value in public_values(holder):
            assert not isinstance(value, RecordRepository), holder
            for inner in public_values(value) if not isinstance(value, str | int) else ():
                assert not isinstance(inner, RecordRepository), (holder, value)


def test_scoped_reads_follow_the_subject_and_the_system_sees_everything(
        engine: sa.Engine) -> None:
    access = record_access(engine)
    ann = access.scoped(AccessSubject("ann", "ann", ("writer",)))
    bob = access.scoped(AccessSubject("bob", "bob", ("writer",)))
    with engine.begin() as conn:
        note = ann.insert(conn, "note", {"text": "hello"})
        access.system.update(conn, "note", note["id"], {"secret": "s3"}, trusted=True)
    with engine.connect() as conn:
        assert ann.get(conn, "note", note["id"]).get("secret") is None  # hidden from ann
        assert ann.readable(conn, "note", note["id"])["secret"] == "s3"  # for the engine
        assert bob.readable(conn, "note", note["id"]) is None
        assert bob.readable(conn, "note", "x" * 80) is None
        system = access.system.get(conn, "note", note["id"])
        assert system is not None and system["owner"] == "ann"
