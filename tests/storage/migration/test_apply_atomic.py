"""A plan applies all or nothing: a failure half-way leaves the database exactly as before."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from migration_helpers import Migrator, entity

from metacrm.kernel.errors import MigrationFailed
from metacrm.storage.migration import APPLIERS, CreateIndex, CreateTable, begin_migration
from metacrm.storage.migration.context import ApplyContext

TITLE = {"name": "title", "type": "text", "max_length": 100}
COMPANY = entity("company", TITLE, {"name": "website", "type": "url"},
                 {"name": "code", "type": "text", "max_length": 20})


def fail_on_create_index(ctx: ApplyContext, op: Any) -> None:
    raise RuntimeError("injected failure")


def table_rows(migrator: Migrator, table: str) -> list[tuple[Any, ...]]:
    query: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(sa.table(table))
    with migrator.engine.connect() as connection:
        return sorted((tuple(row) for row in connection.execute(query)), key=str)


def snapshot(migrator: Migrator) -> dict[str, Any]:
    return {
        "schema": migrator.schema(),
        "company": table_rows(migrator, "crm_company"),
        "archive": table_rows(migrator, "metacrm_archive"),
        "sequences": table_rows(migrator, "metacrm_sequences"),
    }


@pytest.fixture
def populated(migrator: Migrator) -> Migrator:
    migrator.apply(COMPANY)
    migrator.insert("crm_company", title="Acme", website="https://acme.test", code="A")
    migrator.insert("crm_company", title="Beta", website="https://beta.test", code="A")
    return migrator


def test_a_failure_after_earlier_operations_undoes_them_all(
    populated: Migrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(populated)
    monkeypatch.setitem(APPLIERS, CreateIndex, fail_on_create_index)
    new = (
        entity("company", {**TITLE, "max_length": 300},  # widen (a table rebuild on SQLite)
               {"name": "code", "type": "integer"},  # replace; website is archived
               {"name": "size", "type": "integer", "indexed": True},  # add, index fails
               {"name": "serial", "type": "auto_number"}),  # add, with a counter row
        entity("contact", {"name": "company", "type": "reference", "entity": "company"}),
    )
    plan = populated.plan(*new)
    assert [op.kind for op in plan.operations] == [
        "archive_column", "create_table", "add_column", "add_column", "widen_column",
        "replace_column", "create_index"]

    with pytest.raises(MigrationFailed) as failed:
        populated.apply(*new, confirm=True)

    assert "injected failure" in str(failed.value)
    assert "create index ix_crm_company_size" in str(failed.value)
    assert snapshot(populated) == before


def test_a_database_error_half_way_undoes_the_plan(populated: Migrator) -> None:
    before = snapshot(populated)
    new = entity("company", TITLE, {"name": "code", "type": "text", "max_length": 20,
                                    "unique": True},   # two companies share code "A"
                 {"name": "phone", "type": "phone"})

    with pytest.raises(MigrationFailed) as failed:
        populated.apply(new, confirm=True)

    assert "ux_crm_company_code" in str(failed.value)
    assert snapshot(populated) == before


def test_an_archived_table_comes_back_when_the_plan_fails(
    populated: Migrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(populated)
    create_table = APPLIERS[CreateTable]

    def fail_on_region(ctx: ApplyContext, op: CreateTable) -> None:
        if op.entity == "region":
            raise RuntimeError("injected failure")
        create_table(ctx, op)

    monkeypatch.setitem(APPLIERS, CreateTable, fail_on_region)

    with pytest.raises(MigrationFailed):
        populated.apply(entity("deal", {"name": "stage", "type": "text", "indexed": True}),
                        entity("region", TITLE), confirm=True)

    assert snapshot(populated) == before
    assert "arch_v2_crm_company" not in populated.tables()


def test_a_migration_cannot_commit_a_dangling_reference(populated: Migrator) -> None:
    populated.apply(COMPANY, entity("contact", {"name": "company", "type": "reference",
                                                "entity": "company"}))
    contact = sa.table("crm_contact", sa.column("id"), sa.column("version"),
                       sa.column("created_at"), sa.column("updated_at"), sa.column("company"))

    with pytest.raises((MigrationFailed, sa.exc.IntegrityError)), \
            begin_migration(populated.engine) as connection:
        now = sa.func.current_timestamp()
        connection.execute(contact.insert().values(
            id="c1", version=1, created_at=now, updated_at=now,
            company="00000000-0000-7000-8000-000000000000"))

    assert populated.rows("SELECT count(*) FROM crm_contact") == [(0,)]
    with pytest.raises(sa.exc.IntegrityError):  # enforcement is back on after the migration
        populated.insert("crm_contact", company="00000000-0000-7000-8000-000000000000")
