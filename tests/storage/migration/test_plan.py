"""The planner: what a metadata change will do, in an order that applies, before touching a DB."""

from __future__ import annotations

from typing import Any

import pytest
from migration_helpers import compile_entities, entity, label

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.model import CompiledModel
from metacrm.storage.migration import (
    AddChoices,
    AddColumn,
    AddForeignKey,
    ArchiveColumn,
    ArchiveTable,
    CreateIndex,
    CreateTable,
    DropIndex,
    MigrationPlan,
    RemoveChoices,
    ReplaceColumn,
    WidenColumn,
    plan_migration,
)

TITLE = {"name": "title", "type": "text", "max_length": 100}
STATUS = {
    "name": "status",
    "type": "picklist",
    "choices": [{"value": "new", "label": label("New")}, {"value": "won", "label": label("Won")}],
}


def plan(registry: FieldTypeRegistry, old: list[dict[str, Any]] | None,
         new: list[dict[str, Any]]) -> MigrationPlan:
    old_model: CompiledModel | None = (
        compile_entities(registry, *old) if old is not None else None
    )
    return plan_migration(old_model, compile_entities(registry, *new), registry)


def kinds(result: MigrationPlan) -> list[str]:
    return [op.kind for op in result.operations]


def test_first_plan_creates_every_table_with_its_indexes(registry: FieldTypeRegistry) -> None:
    company = entity("company", {**TITLE, "unique": True}, {"name": "size", "type": "integer",
                                                             "indexed": True})
    result = plan(registry, None, [company])

    (create,) = result.operations
    assert isinstance(create, CreateTable)
    assert create.table == "crm_company"
    assert create.fields == ("title", "size")
    assert set(create.indexes) == {"ux_crm_company_title", "ix_crm_company_size"}
    assert not result.destructive


def test_referenced_tables_are_created_first(registry: FieldTypeRegistry) -> None:
    deal = entity("deal", {"name": "account", "type": "reference", "entity": "account"})
    account = entity("account", {"name": "region", "type": "reference", "entity": "region"})
    region = entity("region", TITLE)

    result = plan(registry, None, [deal, account, region])

    assert [op.entity for op in result.operations] == ["region", "account", "deal"]
    assert all(isinstance(op, CreateTable) and not op.deferred_fields for op in result.operations)


def test_a_reference_cycle_gets_its_closing_foreign_key_after_both_tables(
    registry: FieldTypeRegistry,
) -> None:
    person = entity("person", {"name": "employer", "type": "reference", "entity": "company"})
    company = entity("company", {"name": "ceo", "type": "reference", "entity": "person",
                                 "on_delete": "restrict"})

    result = plan(registry, None, [person, company])

    assert kinds(result) == ["create_table", "create_table", "add_foreign_key"]
    first, second, key = result.operations
    assert isinstance(first, CreateTable) and isinstance(key, AddForeignKey)
    assert first.deferred_fields == (key.field,)
    assert key.target_table == second.table
    assert key.on_delete == "RESTRICT"


def test_operations_come_in_applicable_order(registry: FieldTypeRegistry) -> None:
    old = [
        entity("lead", TITLE, {"name": "score", "type": "integer", "indexed": True},
               {"name": "notes", "type": "text", "max_length": 50}),
        entity("legacy", TITLE),
    ]
    new = [
        entity("lead", {**TITLE, "max_length": 200}, {"name": "notes", "type": "integer"},
               {"name": "email", "type": "email", "unique": True}),
        entity("contact", TITLE),
    ]

    result = plan(registry, old, new)

    assert kinds(result) == [
        "drop_index",       # the index of the removed field, before its column is renamed
        "archive_column",   # lead.score
        "archive_table",    # legacy
        "create_table",     # contact
        "add_column",       # lead.email
        "widen_column",     # lead.title 100 -> 200
        "replace_column",   # lead.notes text -> integer
        "create_index",     # lead.email unique, once the column exists
    ]
    assert result.destructive
    assert {type(op) for op in result.destructive_operations} == {
        ArchiveColumn, ArchiveTable, ReplaceColumn,
    }


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"max_length": 100}, {"max_length": 300}, WidenColumn),
        ({"max_length": 300}, {"max_length": 100}, ReplaceColumn),
    ],
)
def test_text_length_widens_or_replaces(
    registry: FieldTypeRegistry, before: dict[str, Any], after: dict[str, Any], expected: type
) -> None:
    result = plan(registry, [entity("lead", {**TITLE, **before})],
                  [entity("lead", {**TITLE, **after})])
    (op,) = result.operations
    assert isinstance(op, expected)
    assert op.destructive is (expected is ReplaceColumn)


def test_a_retyped_field_has_its_index_rebuilt_around_the_new_column(
    registry: FieldTypeRegistry,
) -> None:
    old = entity("lead", {"name": "code", "type": "text", "unique": True})
    new = entity("lead", {"name": "code", "type": "integer", "unique": True})

    result = plan(registry, [old], [new])

    assert kinds(result) == ["drop_index", "replace_column", "create_index"]
    drop, _, create = result.operations
    assert isinstance(drop, DropIndex) and isinstance(create, CreateIndex)
    assert drop.name == create.name == "ux_crm_lead_code"
    assert create.unique


def test_picklist_values_added_are_additive_removed_are_destructive(
    registry: FieldTypeRegistry,
) -> None:
    lost = {"value": "lost", "label": label("Lost")}
    added = plan(registry, [entity("deal", STATUS)],
                 [entity("deal", {**STATUS, "choices": [*STATUS["choices"], lost]})])
    removed = plan(registry, [entity("deal", STATUS)],
                   [entity("deal", {**STATUS, "choices": STATUS["choices"][:1]})])

    (add,) = added.operations
    assert isinstance(add, AddChoices) and add.values == ("lost",)
    assert not added.destructive and not add.changes_schema
    (remove,) = removed.operations
    assert isinstance(remove, RemoveChoices) and remove.values == ("won",)
    assert removed.destructive and not remove.changes_schema


def test_label_and_required_changes_need_no_operation(registry: FieldTypeRegistry) -> None:
    old = entity("lead", TITLE)
    new = entity("lead", {**TITLE, "label": label("Subject"), "required": True})
    assert plan(registry, [old], [new]).is_empty


def test_indexed_flag_toggles_an_index(registry: FieldTypeRegistry) -> None:
    plain = entity("lead", TITLE)
    indexed = entity("lead", {**TITLE, "indexed": True})

    assert kinds(plan(registry, [plain], [indexed])) == ["create_index"]
    assert kinds(plan(registry, [indexed], [plain])) == ["drop_index"]


def test_money_adds_amount_and_currency_columns(registry: FieldTypeRegistry) -> None:
    result = plan(registry, [entity("deal", TITLE)],
                  [entity("deal", TITLE, {"name": "amount", "type": "money"})])
    (add,) = result.operations
    assert isinstance(add, AddColumn)
    assert add.columns == ("amount", "amount_currency")


def test_description_is_numbered_and_marks_destructive_lines(
    registry: FieldTypeRegistry,
) -> None:
    old = [entity("lead", TITLE, {"name": "score", "type": "integer"})]
    new = [entity("lead", TITLE, {"name": "email", "type": "email"})]

    text = plan(registry, old, new).describe()

    lines = text.splitlines()
    assert "1 destructive" in lines[0]
    assert lines[1].startswith("1. [destructive] remove field lead.score")
    assert lines[2].startswith("2. add field lead.email (email)")
    assert plan(registry, old, old).describe() == "No schema changes."


def test_plan_json_lists_every_operation_with_its_data(registry: FieldTypeRegistry) -> None:
    result = plan(registry, [entity("lead", TITLE)],
                  [entity("lead", TITLE, {"name": "email", "type": "email"})])
    data = result.to_json()
    assert data["destructive"] is False
    (op,) = data["operations"]
    assert op["op"] == "add_column"
    assert op["columns"] == ["email"]
    assert op["description"] == result.operations[0].describe()
