"""Saved list views: private to their owner unless shared, only for readers of the entity,
replaced when saved again under the same name, deleted only by their owner; and exports
read only what the read AND export scopes admit, without hidden fields."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from records_world import DOCUMENTS, World, role

from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed
from metacrm.services.export.records import export_records
from metacrm.services.users.saved_views import SavedViewsService, ViewDefinition

BIG = ViewDefinition(columns=("title", "amount"),
                     filter={"field": "amount", "op": "gt", "value": "100"},
                     sort=("-amount",), q="acme")
EXPORTER = role("exporter", entities={"deal": {
    "read": "all", "export": "own", "fields": {"margin": "hidden"}}})


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    yield World(engine, [*DOCUMENTS, EXPORTER])


@pytest.fixture
def views(world: World) -> SavedViewsService:
    return SavedViewsService(world.records)


def test_a_view_is_private_until_shared(world: World, views: SavedViewsService) -> None:
    rep1, rep2 = world.subject("rep1"), world.subject("rep2")
    saved = views.save(rep1, "deal", "Big deals", BIG)
    assert [v.name for v in views.visible(rep1, "deal")] == ["Big deals"]
    assert views.get(rep1, "deal", saved.id).definition == BIG
    assert views.visible(rep2, "deal") == []
    with pytest.raises(NotFound):
        views.get(rep2, "deal", saved.id)
    again = views.save(rep1, "deal", "Big deals", BIG, shared=True)  # same name: replaced
    assert again.id == saved.id
    assert [v.id for v in views.visible(rep2, "deal")] == [saved.id]
    assert views.get(rep2, "deal", saved.id).shared
    with pytest.raises(NotFound):  # a view belongs to its entity
        views.get(rep1, "company", saved.id)


def test_only_readers_of_the_entity_use_its_views(world: World,
                                                  views: SavedViewsService) -> None:
    shared = views.save(world.subject("rep1"), "deal", "Shared", BIG, shared=True)
    nobody = world.subject("nobody")
    with pytest.raises(Forbidden):
        views.visible(nobody, "deal")
    with pytest.raises(Forbidden):
        views.get(nobody, "deal", shared.id)
    with pytest.raises(Forbidden):
        views.save(nobody, "deal", "Mine", BIG)
    with pytest.raises(NotFound):
        views.visible(world.admin, "no_such_entity")


def test_only_the_owner_deletes_a_view(world: World, views: SavedViewsService) -> None:
    rep1, rep2 = world.subject("rep1"), world.subject("rep2")
    shared = views.save(rep1, "deal", "Shared", BIG, shared=True)
    with pytest.raises(Forbidden):
        views.delete(rep2, "deal", shared.id)
    views.delete(rep1, "deal", shared.id)
    assert views.visible(rep1, "deal") == views.visible(rep2, "deal") == []


def test_names_and_definitions_are_checked(world: World, views: SavedViewsService) -> None:
    rep1 = world.subject("rep1")
    with pytest.raises(ValidationFailed) as caught:
        views.save(rep1, "deal", "  ", BIG)
    assert caught.value.errors[0].pointer == "/name"
    with pytest.raises(ValidationFailed):
        views.save(rep1, "deal", "x" * 201, BIG)
    with pytest.raises(ValidationFailed):
        views.save(rep1, "deal", "Wide", ViewDefinition(columns=tuple(f"c{i}" for i in
                                                                       range(51))))
    assert ViewDefinition.from_json({"columns": "title", "sort": [1, "x"], "q": ""}) == \
        ViewDefinition(columns=(), sort=("x",), q=None)


def test_an_export_reads_the_read_and_export_scopes_without_hidden_fields(
        world: World) -> None:
    admin = world.admin
    exporter = world.subject("exporter", ("exporter",))
    rep = world.subject("rep1")
    world.records.create(admin, "deal", {"title": "Theirs", "amount": "5", "margin": "1"})
    mine = world.records.create(admin, "deal", {"title": "Mine", "amount": "7",
                                                "margin": "2", "owner": "exporter"})
    rows = export_records(world.records, exporter, "deal")
    assert [r["id"] for r in rows.records] == [mine["id"]]  # export: own only
    assert "margin" not in rows.fields and "margin" not in rows.records[0]
    assert not rows.truncated
    with pytest.raises(Forbidden):
        export_records(world.records, rep, "deal")  # no export grant
    with pytest.raises(ValidationFailed):
        export_records(world.records, exporter, "deal",
                       criteria={"field": "margin", "op": "gt", "value": "0"})
    everything = export_records(world.records, admin, "deal", limit=1, sort=("title",))
    assert len(everything.records) == 1 and everything.truncated
    picked = export_records(world.records, admin, "deal", ids=[mine["id"]])
    assert [r["title"] for r in picked.records] == ["Mine"]
