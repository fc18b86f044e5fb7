"""Applying metadata versions: one transaction for the schema and the version row."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.kernel.errors import (
    DestructiveChangeRefused,
    MetadataInvalid,
    MigrationFailed,
    StaleRecord,
)
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.services.metadata import model_cache
from metacrm.services.metadata import service as metadata_service
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.migration import APPLIERS, CreateIndex


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def company(*extra: dict[str, Any], title: str = "Name") -> Document:
    body = {
        "kind": "entity", "version": 1, "name": "company",
        "label": label("Company"), "plural_label": label("Companies"),
        "fields": [{"name": "title", "type": "text", "label": label(title)},
                   *({"label": label(f["name"]), **f} for f in extra)],
    }
    return Document.from_body(body, source="crm/company.json", pack="crm")


WEBSITE = {"name": "website", "type": "url"}
CODE = {"name": "code", "type": "text", "max_length": 20}


@pytest.fixture
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture
def service(engine: sa.Engine, registry: FieldTypeRegistry) -> MetadataService:
    service = MetadataService(engine, registry)
    service.initialize()
    return service


def columns(engine: sa.Engine, table: str = "crm_company") -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def insert_company(engine: sa.Engine, row_id: str, **values: Any) -> None:
    names = ["id", "version", "created_at", "updated_at", *values]
    table = sa.table("crm_company", *(sa.column(n) for n in names))
    now = sa.func.current_timestamp()
    with engine.begin() as connection:
        connection.execute(table.insert().values(id=row_id, version=1, created_at=now,
                                                 updated_at=now, **values))


def snapshot(engine: sa.Engine) -> dict[str, Any]:
    """Every table's columns and indexes, the versions stored and the archive log."""
    inspector = sa.inspect(engine)
    tables = {
        table: ([c["name"] for c in inspector.get_columns(table)],
                sorted(str(i) for i in inspector.get_indexes(table)))
        for table in inspector.get_table_names()
    }
    with engine.connect() as connection:
        versions = connection.execute(sa.text(
            "SELECT number, checksum FROM metacrm_metadata_versions ORDER BY number")).all()
        archived = connection.execute(sa.text("SELECT count(*) FROM metacrm_archive")).scalar()
    return {"tables": tables, "versions": [tuple(v) for v in versions], "archived": archived}


def test_initialize_is_idempotent(service: MetadataService) -> None:
    service.initialize()
    assert service.history() == []
    assert service.current_model().entities == {}


def test_first_apply_creates_tables_and_records_version_one(
    service: MetadataService, engine: sa.Engine
) -> None:
    applied = service.apply([company(WEBSITE)], author="cli", comment="first")

    assert applied is not None
    assert applied.number == 1
    assert "create table crm_company" in applied.describe()
    assert {"title", "website"} <= columns(engine)
    (version,) = service.history()
    assert (version.number, version.author, version.comment) == (1, "cli", "first")
    assert version.plan is not None
    assert version.plan["operations"][0]["op"] == "create_table"
    assert service.current_model().entity("company") is not None


def test_applying_the_same_documents_again_is_a_no_op(service: MetadataService) -> None:
    service.apply([company()])
    assert service.apply([company()]) is None
    assert [v.number for v in service.history()] == [1]
    assert service.plan([company()]).unchanged
    assert "Nothing to apply" in service.plan([company()]).describe()


def test_plan_shows_the_change_without_applying_it(
    service: MetadataService, engine: sa.Engine
) -> None:
    service.apply([company()])

    report = service.plan([company(WEBSITE)])

    assert report.live_version == 1
    assert not report.unchanged
    assert "add field company.website (url)" in report.describe()
    assert "website" not in columns(engine)
    assert [v.number for v in service.history()] == [1]


def test_invalid_documents_are_reported_not_planned(service: MetadataService) -> None:
    broken = company({"name": "size", "type": "integr"})
    with pytest.raises(MetadataInvalid) as invalid:
        service.plan([broken])
    assert any(detail.pointer == "/fields/1/type" for detail in invalid.value.errors)
    with pytest.raises(MetadataInvalid):
        service.apply([broken])
    assert service.history() == []


def test_adding_a_field_keeps_rows_and_records_version_two(
    service: MetadataService, engine: sa.Engine
) -> None:
    service.apply([company()])
    insert_company(engine, "c1", title="Acme")

    applied = service.apply([company(WEBSITE)], comment="add website")

    assert applied is not None and applied.number == 2
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, title, website FROM crm_company")).all()
    assert [tuple(r) for r in rows] == [("c1", "Acme", None)]
    assert [v.comment for v in service.history()] == ["add website", None]


def test_label_only_change_is_a_new_version_without_schema_change(
    service: MetadataService,
) -> None:
    service.apply([company()])
    applied = service.apply([company(title="Company name")])
    assert applied is not None and applied.plan.is_empty
    model = service.current_model().entity("company")
    assert model is not None
    field = model.field("title")
    assert field is not None and field.label["en"] == "Company name"


def test_destructive_change_is_refused_unless_confirmed(
    service: MetadataService, engine: sa.Engine
) -> None:
    service.apply([company(WEBSITE)])
    insert_company(engine, "c1", website="https://acme.test")

    with pytest.raises(DestructiveChangeRefused) as refused:
        service.apply([company()])
    assert "website" in str(refused.value)
    assert "website" in columns(engine)
    assert [v.number for v in service.history()] == [1]

    applied = service.apply([company()], confirm_destructive=True)
    assert applied is not None and applied.number == 2
    with engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT arch_v2_website FROM crm_company")).scalar()
    assert kept == "https://acme.test"


def test_injected_failure_leaves_schema_and_store_as_before(
    service: MetadataService, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.apply([company(WEBSITE)])
    insert_company(engine, "c1", title="Acme", website="https://acme.test")

    def fail(ctx: object, op: object) -> None:
        raise RuntimeError("disk full (injected)")

    before = snapshot(engine)
    monkeypatch.setitem(APPLIERS, CreateIndex, fail)
    with pytest.raises(MigrationFailed) as failed:
        service.apply([company({**CODE, "indexed": True})], confirm_destructive=True)

    assert "disk full (injected)" in str(failed.value)
    assert snapshot(engine) == before  # website not archived, code not added, no version
    assert [v.number for v in service.history()] == [1]
    live = service.current_model().entity("company")
    assert live is not None and live.field("website") is not None


def test_database_failure_leaves_schema_and_store_as_before(
    service: MetadataService, engine: sa.Engine
) -> None:
    service.apply([company(CODE)])
    insert_company(engine, "c1", code="A")
    insert_company(engine, "c2", code="A")
    before = snapshot(engine)

    with pytest.raises(MigrationFailed) as failed:
        service.apply([company({**CODE, "unique": True}, WEBSITE)])

    assert "ux_crm_company_code" in str(failed.value)
    assert snapshot(engine) == before
    assert [v.number for v in service.history()] == [1]


def test_model_is_compiled_once_per_version(
    engine: sa.Engine, registry: FieldTypeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = MetadataService(engine, registry)
    admin.apply([company()])
    calls: list[int] = []
    real_compile = compile_model

    def counting(documents: Any, catalog: Any) -> Any:
        calls.append(len(documents))
        return real_compile(documents, catalog)

    monkeypatch.setattr(metadata_service, "compile_model", counting)
    monkeypatch.setattr(model_cache, "compile_model", counting)
    worker = MetadataService(engine, registry)  # another process

    first = [worker.current_model() for _ in range(3)]
    assert len(calls) == 1 and first[0] is first[1] is first[2]

    admin.apply([company(WEBSITE)])
    changed = [worker.current_model() for _ in range(3)]
    assert len(calls) == 3  # admin compiled the new documents once, the worker once
    assert changed[0] is changed[2]
    entity = changed[0].entity("company")
    assert entity is not None and entity.field("website") is not None
    assert worker.live().number == 2


def test_a_pinned_unit_of_work_keeps_its_version_while_another_process_applies(
    engine: sa.Engine, service: MetadataService, registry: FieldTypeRegistry
) -> None:
    service.apply([company()])
    other_process = MetadataService(engine, registry)
    with service.pinned() as held:
        other_process.apply([company(WEBSITE)])
        assert service.live() is held
        assert not service.live().model.entities["company"].has_field("website")
    assert service.live().number == held.number + 1
    assert service.live().model.entities["company"].has_field("website")


def test_a_version_applied_inside_a_pinned_unit_of_work_becomes_the_pinned_one(
    service: MetadataService,
) -> None:
    service.apply([company()])
    with service.pinned() as held:
        applied = service.apply([company(WEBSITE)])
        assert applied is not None
        assert service.live().number == applied.number == held.number + 1


def test_an_apply_built_on_a_stale_version_is_refused_and_changes_nothing(
    engine: sa.Engine, service: MetadataService, registry: FieldTypeRegistry
) -> None:
    base = service.apply([company()])
    assert base is not None
    first_admin, second_admin = MetadataService(engine, registry), MetadataService(engine, registry)
    read = first_admin.live().number
    assert second_admin.live().number == read == base.number

    applied = first_admin.apply([company(WEBSITE)], expected_version=read)
    assert applied is not None and applied.number == read + 1
    before = snapshot(engine)
    with pytest.raises(StaleRecord) as refused:
        second_admin.apply([company(CODE)], expected_version=read)

    assert refused.value.status == 412
    assert f"since version {read}: now at {read + 1}" in refused.value.message
    assert snapshot(engine) == before
    assert [v.number for v in service.history()] == [read + 1, read]
    assert columns(engine) >= {"website"} and "code" not in columns(engine)
    assert second_admin.live().model.entities["company"].has_field("website")


def test_expected_version_must_be_live_even_for_unchanged_documents(
    service: MetadataService,
) -> None:
    with pytest.raises(StaleRecord):
        service.apply([company()], expected_version=1)
    assert service.history() == []
    applied = service.apply([company()], expected_version=0)
    assert applied is not None and applied.number == 1
    assert service.apply([company()], expected_version=1) is None
    with pytest.raises(StaleRecord):
        service.apply([company()], expected_version=0)


def test_an_apply_waits_for_a_record_write_in_progress(
    service: MetadataService, engine: sa.Engine
) -> None:
    """A user saving a record while an admin applies a change: the apply waits for the
    save to commit, instead of failing with "database is locked" (SQLite) or racing it."""
    service.apply([company()])
    result: dict[str, Any] = {}
    with engine.connect() as writer:
        writer.begin()
        writer.execute(sa.text("UPDATE crm_company SET title = 'x' WHERE id = 'none'"))
        insert = sa.text("INSERT INTO crm_company (id, version, created_at, updated_at, title)"
                         " VALUES ('c1', 1, current_timestamp, current_timestamp, 'Acme')")
        writer.execute(insert)  # the writer holds the write lock, uncommitted

        def apply() -> None:
            try:
                result["applied"] = service.apply([company(WEBSITE)])
            except Exception as exc:  # reported below
                result["error"] = exc

        thread = threading.Thread(target=apply)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the writer, not failed
        writer.commit()
    thread.join(30)
    assert "error" not in result, result.get("error")
    assert result["applied"].number == 2
    assert "website" in columns(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT title FROM crm_company")).scalar() == "Acme"
