"""Destructive changes: refused unless confirmed, and even then every value is kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from migration_helpers import Migrator, entity, label

from metacrm.fieldtypes.sqltypes import ExactDecimal
from metacrm.kernel.errors import DestructiveChangeRefused
from metacrm.storage.migration import archive
from metacrm.storage.system_tables import archive as archive_table

TITLE = {"name": "title", "type": "text", "max_length": 100}
WEBSITE = {"name": "website", "type": "url", "indexed": True}


def archive_rows(migrator: Migrator) -> list[tuple[object, ...]]:
    with migrator.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.select(archive_table.c.version, archive_table.c.kind, archive_table.c.entity,
                          archive_table.c.field, archive_table.c.table_name,
                          archive_table.c.archived_as).order_by(archive_table.c.id)
            )
        ]


def test_removing_a_field_is_refused_without_confirmation(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE, WEBSITE))
    migrator.insert("crm_company", website="https://acme.test")
    columns_before = migrator.columns("crm_company")

    with pytest.raises(DestructiveChangeRefused) as refused:
        migrator.apply(entity("company", TITLE))

    assert "website" in str(refused.value)
    assert migrator.columns("crm_company").keys() == columns_before.keys()
    assert "ix_crm_company_website" in migrator.indexes("crm_company")
    assert archive_rows(migrator) == []


def test_a_confirmed_removal_archives_the_column_with_its_data(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE, WEBSITE))
    (company_id,) = migrator.insert("crm_company", website="https://acme.test")

    migrator.apply(entity("company", TITLE), confirm=True)

    columns = migrator.columns("crm_company")
    assert "website" not in columns
    assert migrator.rows("SELECT id, arch_v2_website FROM crm_company") == [
        (company_id, "https://acme.test")]
    assert "ix_crm_company_website" not in migrator.indexes("crm_company")
    assert archive_rows(migrator) == [
        (2, "column", "company", "website", "crm_company", "arch_v2_website")]


def test_the_field_can_come_back_after_being_archived(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE, WEBSITE))
    migrator.insert("crm_company", website="https://old.test")
    migrator.apply(entity("company", TITLE), confirm=True)

    migrator.apply(entity("company", TITLE, WEBSITE))

    assert migrator.rows("SELECT website, arch_v2_website FROM crm_company") == [
        (None, "https://old.test")]
    assert "ix_crm_company_website" in migrator.indexes("crm_company")


def test_an_archived_reference_no_longer_cascades_or_restricts(migrator: Migrator) -> None:
    def person(*fields: dict[str, Any]) -> dict[str, Any]:
        return entity("person", TITLE, *fields)

    employer = {"name": "employer", "type": "reference", "entity": "company",
                "on_delete": "cascade"}
    auditor = {"name": "auditor", "type": "reference", "entity": "company",
               "on_delete": "restrict"}
    migrator.apply(entity("company", TITLE), person(employer, auditor))
    (company_id,) = migrator.insert("crm_company")
    migrator.insert("crm_person", title="Ann", employer=company_id, auditor=company_id)

    migrator.apply(entity("company", TITLE), person(), confirm=True)
    migrator.execute("DELETE FROM crm_company")

    assert migrator.rows("SELECT title, arch_v2_employer, arch_v2_auditor FROM crm_person") == [
        ("Ann", company_id, company_id)]
    assert sa.inspect(migrator.engine).get_foreign_keys("crm_person") == []


def test_a_type_change_archives_and_copies_what_converts(
    migrator: Migrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "COPY_BATCH", 2)  # several batches with a few rows
    code = {"name": "code", "type": "text", "unique": True}
    migrator.apply(entity("lead", code))
    values = ["42", "abc", " 7 ", None, "1000000"]
    ids = [migrator.insert("crm_lead", code=value)[0] for value in values]

    with pytest.raises(DestructiveChangeRefused):
        migrator.apply(entity("lead", {**code, "type": "integer"}))
    plan = migrator.apply(entity("lead", {**code, "type": "integer"}), confirm=True)

    assert [op.kind for op in plan.operations] == ["drop_index", "replace_column",
                                                   "create_index"]
    rows = dict(
        (row_id, (new, old))
        for row_id, new, old in migrator.rows("SELECT id, code, arch_v2_code FROM crm_lead")
    )
    assert [rows[row_id] for row_id in ids] == [
        (42, "42"), (None, "abc"), (7, " 7 "), (None, None), (1000000, "1000000")]
    assert migrator.indexes("crm_lead")["ux_crm_lead_code"]["column_names"] == ["code"]
    assert archive_rows(migrator)[0][1:] == ("column", "lead", "code", "crm_lead", "arch_v2_code")


def test_narrowing_keeps_long_values_in_the_archive_only(migrator: Migrator) -> None:
    migrator.apply(entity("lead", TITLE))
    short, long = (migrator.insert("crm_lead", title=text)[0] for text in ("short", "x" * 80))

    migrator.apply(entity("lead", {**TITLE, "max_length": 10}), confirm=True)

    rows = dict(
        (row_id, (new, old))
        for row_id, new, old in migrator.rows("SELECT id, title, arch_v2_title FROM crm_lead")
    )
    assert rows == {short: ("short", "short"), long: (None, "x" * 80)}
    assert migrator.columns("crm_lead")["title"]["type"].length == 10


def test_changing_a_reference_rule_keeps_the_links(migrator: Migrator) -> None:
    employer = {"name": "employer", "type": "reference", "entity": "company"}
    migrator.apply(entity("company", TITLE), entity("person", employer))
    (company_id,) = migrator.insert("crm_company")
    migrator.insert("crm_person", 2, employer=company_id)

    migrator.apply(entity("company", TITLE),
                   entity("person", {**employer, "on_delete": "cascade"}), confirm=True)

    assert migrator.rows("SELECT employer FROM crm_person") == [(company_id,), (company_id,)]
    migrator.execute("DELETE FROM crm_company")
    assert migrator.rows("SELECT count(*) FROM crm_person") == [(0,)]


def test_text_to_reference_copies_ids_of_existing_records_only(migrator: Migrator) -> None:
    account = {"name": "account", "type": "text", "max_length": 36}
    migrator.apply(entity("company", TITLE), entity("deal", account))
    (company_id,) = migrator.insert("crm_company")
    known = migrator.insert("crm_deal", account=company_id)[0]
    unknown = migrator.insert("crm_deal", account="00000000-0000-7000-8000-000000000000")[0]

    migrator.apply(entity("company", TITLE), entity("deal", {
        "name": "account", "type": "reference", "entity": "company"}), confirm=True)

    rows = {row[0]: row[1:] for row in migrator.rows(
        "SELECT id, account, arch_v2_account FROM crm_deal")}
    assert rows == {known: (company_id, company_id),
                    unknown: (None, "00000000-0000-7000-8000-000000000000")}
    migrator.execute("DELETE FROM crm_company")  # set_null by default
    assert migrator.rows("SELECT account FROM crm_deal") == [(None,), (None,)]


def test_money_to_decimal_keeps_the_amount(migrator: Migrator) -> None:
    migrator.apply(entity("deal", {"name": "amount", "type": "money"}))
    migrator.insert_record("deal", amount={"amount": "12.50", "currency": "EUR"})

    migrator.apply(entity("deal", {"name": "amount", "type": "decimal", "scale": 1}),
                   confirm=True)

    assert migrator.read("crm_deal", amount=ExactDecimal(18, 1),
                         arch_v2_amount_currency=sa.String()) == [(Decimal("12.5"), "EUR")]


def test_removing_a_picklist_value_needs_confirmation_and_keeps_records(
    migrator: Migrator,
) -> None:
    choices = [{"value": "new", "label": label("New")}, {"value": "old", "label": label("Old")}]
    status = {"name": "status", "type": "picklist", "choices": choices}
    migrator.apply(entity("deal", status))
    migrator.insert("crm_deal", status="old")

    with pytest.raises(DestructiveChangeRefused):
        migrator.apply(entity("deal", {**status, "choices": choices[:1]}))
    migrator.apply(entity("deal", {**status, "choices": choices[:1]}), confirm=True)

    assert migrator.rows("SELECT status FROM crm_deal") == [("old",)]


def test_removing_an_entity_archives_its_table_and_frees_its_name(migrator: Migrator) -> None:
    lead = entity("lead", {**TITLE, "unique": True},
                  {"name": "company", "type": "reference", "entity": "company",
                   "on_delete": "restrict"})
    migrator.apply(entity("company", TITLE), lead)
    (company_id,) = migrator.insert("crm_company")
    ids = migrator.insert("crm_lead", 3, company=company_id)

    with pytest.raises(DestructiveChangeRefused):
        migrator.apply(entity("company", TITLE))
    migrator.apply(entity("company", TITLE), confirm=True)

    assert "crm_lead" not in migrator.tables()
    assert sorted(migrator.rows("SELECT id, company FROM arch_v2_crm_lead")) == [
        (row_id, company_id) for row_id in sorted(ids)]
    assert archive_rows(migrator) == [(2, "table", "lead", None, "crm_lead", "arch_v2_crm_lead")]
    migrator.execute("DELETE FROM crm_company")  # the archive no longer restricts

    migrator.apply(entity("company", TITLE), lead)  # a new lead entity: names are free
    assert migrator.indexes("crm_lead")["ux_crm_lead_title"]["unique"]
    assert migrator.rows("SELECT count(*) FROM arch_v2_crm_lead") == [(3,)]
