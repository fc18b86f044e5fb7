"""Duplicate rules added to, changed in and removed from a live database: match keys are
real columns the migration planner adds (filled for the rows already there), rebuilds and
drops, without touching the records' own values."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from records_world import DOCUMENTS, LABEL, World, documents

from metacrm.services.duplicates.review import DuplicateReview


def rule(*normalise: str, match: str = "exact") -> dict[str, Any]:
    return {"kind": "duplicate_rule", "name": "company_by_name", "version": 1,
            "label": LABEL, "entity": "company", "action": "warn",
            "conditions": [{"field": "name", "normalise": list(normalise), "match": match}]}


def key_columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("crm_company")
            if c["name"].startswith("_mk_")}


def groups(world: World) -> list[list[str]]:
    review = DuplicateReview(world.records)
    names = {r["id"]: r["name"] for r in world.records.list(world.admin, "company").records}
    return [sorted(names[i] for i in g.ids) for g in review.scan(world.admin, "company")]


def test_a_new_rule_fills_keys_for_existing_rows_and_a_removed_one_drops_them(
        engine: sa.Engine) -> None:
    world = World(engine)
    for name in ("Acme LLC", "ACME", "Globex GmbH", "Initech"):
        world.records.create(world.admin, "company", {"name": name})
    table_of = world.metadata.live().tables["company"].name
    assert table_of == "crm_company"
    assert key_columns(engine) == set()

    world.metadata.apply(documents([*DOCUMENTS, rule("legal_form")]), author="test")

    assert len(key_columns(engine)) == 1
    assert groups(world) == [["ACME", "Acme LLC"]]
    created = world.records.create(world.admin, "company", {"name": "globex"})
    assert [m.id for m in DuplicateReview(world.records).of_record(
        world.admin, "company", created["id"]).matches] != []

    world.metadata.apply(documents([*DOCUMENTS, rule("legal_form", "transliterate",
                                                     match="fuzzy")]), author="test")
    assert groups(world) == [["ACME", "Acme LLC"], ["Globex GmbH", "globex"]]
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("crm_company")}
    # the fuzzy key has a b-tree index everywhere and a trigram index on PostgreSQL
    assert sum(name.startswith("ix_crm_company__mk_") for name in indexes) == 1
    assert sum(name.startswith("tg_crm_company__mk_") for name in indexes) == (
        engine.dialect.name == "postgresql")

    world.metadata.apply(documents(DOCUMENTS), author="test")

    assert key_columns(engine) == set()
    assert sorted(r["name"] for r in world.records.list(world.admin, "company").records) == [
        "ACME", "Acme LLC", "Globex GmbH", "Initech", "globex"]
