"""Additive changes on a real database: new tables, columns, indexes, foreign keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from migration_helpers import Migrator, entity, label

from metacrm.storage.system_tables import sequences

TITLE = {"name": "title", "type": "text", "max_length": 100}
SYSTEM_COLUMNS = {"id", "created_at", "created_by", "updated_at", "updated_by", "owner", "version"}


def test_new_entity_gets_a_table_with_system_columns_indexes_and_keys(
    migrator: Migrator,
) -> None:
    company = entity("company", {**TITLE, "unique": True})
    person = entity(
        "person",
        {"name": "name", "type": "text", "indexed": True},
        {"name": "employer", "type": "reference", "entity": "company"},
        {"name": "salary", "type": "money"},
    )

    migrator.apply(company, person)

    columns = migrator.columns("crm_person")
    assert set(columns) == SYSTEM_COLUMNS | {"name", "employer", "salary", "salary_currency"}
    assert columns["id"]["nullable"] is False
    indexes = migrator.indexes("crm_person")
    assert indexes["ix_crm_person_name"]["column_names"] == ["name"]
    assert indexes["ix_crm_person_employer"]["column_names"] == ["employer"]
    assert migrator.indexes("crm_company")["ux_crm_company_title"]["unique"]
    (key,) = sa.inspect(migrator.engine).get_foreign_keys("crm_person")
    assert (key["constrained_columns"], key["referred_table"]) == (["employer"], "crm_company")


def test_adding_a_field_keeps_every_row(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE))
    ids = migrator.insert("crm_company", 5, title="Acme")

    plan = migrator.apply(entity("company", TITLE, {"name": "website", "type": "url"},
                                 {"name": "parent", "type": "reference", "entity": "company"}))

    assert [op.kind for op in plan.operations] == ["add_column", "add_column", "create_index"]
    assert {"website", "parent"} <= set(migrator.columns("crm_company"))
    rows = migrator.rows("SELECT id, title, website, parent FROM crm_company ORDER BY id")
    assert rows == [(row_id, "Acme", None, None) for row_id in sorted(ids)]


def test_an_added_reference_column_enforces_its_key(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE), entity("person", TITLE))
    migrator.apply(
        entity("company", TITLE),
        entity("person", TITLE, {"name": "employer", "type": "reference", "entity": "company",
                                 "on_delete": "cascade"}),
    )
    (company,) = migrator.insert("crm_company")
    migrator.insert("crm_person", employer=company)

    with pytest.raises(sa.exc.IntegrityError):
        migrator.insert("crm_person", employer="00000000-0000-7000-8000-000000000000")
    migrator.execute("DELETE FROM crm_company")
    assert migrator.rows("SELECT count(*) FROM crm_person") == [(0,)]


def test_widening_text_keeps_rows_and_referencing_records(migrator: Migrator) -> None:
    parent = {"name": "parent", "type": "reference", "entity": "company"}
    company = entity("company", TITLE, parent)
    person = entity("person", {"name": "employer", "type": "reference", "entity": "company",
                               "on_delete": "cascade"})
    migrator.apply(company, person)
    (company_id,) = migrator.insert("crm_company", title="Acme")
    migrator.insert("crm_person", 3, employer=company_id)

    (branch_id,) = migrator.insert("crm_company", title="Acme East", parent=company_id)

    plan = migrator.apply(entity("company", {**TITLE, "max_length": 300}, parent), person)

    assert [op.kind for op in plan.operations] == ["widen_column"]
    assert migrator.columns("crm_company")["title"]["type"].length == 300
    assert sorted(migrator.rows("SELECT id, title, parent FROM crm_company")) == sorted(
        [(company_id, "Acme", None), (branch_id, "Acme East", company_id)])
    assert "ix_crm_company_parent" in migrator.indexes("crm_company")
    with pytest.raises(sa.exc.IntegrityError):  # the self-reference is still enforced
        migrator.insert("crm_company", parent="00000000-0000-7000-8000-000000000000")
    # Rebuilding a table on SQLite must not fire ON DELETE CASCADE of the tables that
    # reference it: the people of the company are all still there.
    assert migrator.rows("SELECT count(*) FROM crm_person") == [(3,)]
    (key,) = sa.inspect(migrator.engine).get_foreign_keys("crm_person")
    assert key["referred_table"] == "crm_company"
    migrator.execute("DELETE FROM crm_company WHERE id = :id", id=branch_id)
    migrator.execute("DELETE FROM crm_company WHERE id = :id", id=company_id)
    assert migrator.rows("SELECT count(*) FROM crm_person") == [(0,)]  # still cascades


def test_widening_a_decimal_keeps_values(migrator: Migrator) -> None:
    price = {"name": "price", "type": "decimal", "precision": 6, "scale": 2}
    migrator.apply(entity("item", price))
    migrator.insert("crm_item", price=1234)  # raw storage value on both databases' scale
    before = migrator.rows("SELECT price FROM crm_item")

    plan = migrator.apply(entity("item", {**price, "precision": 12}))

    assert [op.kind for op in plan.operations] == ["widen_column"]
    assert migrator.rows("SELECT price FROM crm_item") == before


def test_new_picklist_value_applies_without_confirmation(migrator: Migrator) -> None:
    choices = [{"value": "new", "label": label("New")}]
    status = {"name": "status", "type": "picklist", "choices": choices}
    migrator.apply(entity("deal", status))
    migrator.insert("crm_deal", status="new")

    plan = migrator.apply(entity("deal", {**status, "choices": [
        *choices, {"value": "won", "label": label("Won")}]}))

    assert [op.kind for op in plan.operations] == ["add_choices"]
    migrator.insert("crm_deal", status="won")
    assert sorted(migrator.rows("SELECT status FROM crm_deal")) == [("new",), ("won",)]


def test_toggling_unique_creates_and_drops_the_index(migrator: Migrator) -> None:
    migrator.apply(entity("company", TITLE))
    migrator.apply(entity("company", {**TITLE, "unique": True}))
    assert migrator.indexes("crm_company")["ux_crm_company_title"]["unique"]

    migrator.apply(entity("company", TITLE))
    assert "ux_crm_company_title" not in migrator.indexes("crm_company")


def test_declared_composite_index_is_created(migrator: Migrator) -> None:
    fields = ({"name": "last", "type": "text"}, {"name": "first", "type": "text"})
    migrator.apply(entity("person", *fields))
    migrator.apply(entity("person", *fields, indexes=(
        {"name": "full_name", "fields": ["last", "first"]},)))
    assert migrator.indexes("crm_person")["idx_crm_person_full_name"]["column_names"] == [
        "last", "first"]


def test_on_delete_rules_act_in_the_database(migrator: Migrator) -> None:
    def child(name: str, rule: str) -> dict[str, object]:
        return entity(name, {"name": "company", "type": "reference", "entity": "company",
                             "on_delete": rule})

    migrator.apply(entity("company", TITLE), child("note", "cascade"), child("task", "set_null"),
                   child("invoice", "restrict"))
    first, second = migrator.insert("crm_company", 2)
    migrator.insert("crm_note", company=first)
    migrator.insert("crm_task", company=first)
    migrator.insert("crm_invoice", company=second)

    migrator.execute("DELETE FROM crm_company WHERE id = :id", id=first)
    assert migrator.rows("SELECT count(*) FROM crm_note") == [(0,)]
    assert migrator.rows("SELECT company FROM crm_task") == [(None,)]
    with pytest.raises(sa.exc.IntegrityError):
        migrator.execute("DELETE FROM crm_company WHERE id = :id", id=second)
    assert migrator.rows("SELECT count(*) FROM crm_company") == [(1,)]


def test_circular_references_between_new_entities_apply(migrator: Migrator) -> None:
    person = entity("person", {"name": "employer", "type": "reference", "entity": "company"})
    company = entity("company", {"name": "ceo", "type": "reference", "entity": "person"},
                     {"name": "parent", "type": "reference", "entity": "company"})

    migrator.apply(person, company)

    inspector = sa.inspect(migrator.engine)
    assert [k["referred_table"] for k in inspector.get_foreign_keys("crm_person")] == [
        "crm_company"]
    assert sorted(k["referred_table"] for k in inspector.get_foreign_keys("crm_company")) == [
        "crm_company", "crm_person"]
    (company_id,) = migrator.insert("crm_company")
    (person_id,) = migrator.insert("crm_person", employer=company_id)
    migrator.execute("UPDATE crm_company SET ceo = :p", p=person_id)
    with pytest.raises(sa.exc.IntegrityError):
        migrator.insert("crm_person", employer="00000000-0000-7000-8000-000000000000")


def test_new_auto_number_field_gets_its_counter(migrator: Migrator) -> None:
    migrator.apply(entity("invoice", TITLE, {"name": "number", "type": "auto_number",
                                             "prefix": "INV-", "start": 1000}))
    migrator.apply(entity("invoice", TITLE, {"name": "number", "type": "auto_number",
                                             "prefix": "INV-", "start": 1000},
                          {"name": "ref", "type": "auto_number"}))

    with migrator.engine.connect() as connection:
        counters = dict(
            connection.execute(sa.select(sequences.c.field, sequences.c.next_value)).all()
        )
    assert counters == {"number": 1000, "ref": 1}
