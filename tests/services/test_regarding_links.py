"""Regarding links (a task about a deal or a company): checked on write like references —
the linked record must exist and be readable by the writer — listed among the linked
record's related lists, and emptied when the linked record is deleted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from records_world import DOCUMENTS, World, entity, field, role

from metacrm.kernel.errors import ValidationFailed
from metacrm.services.records.related import related_lists

TASK = entity("task", field("subject", "text", required=True),
              field("regarding", "regarding", entities=["company", "deal"]))
PLANNER = role("planner", entities={
    "task": {"read": "all", "create": "all", "update": "all", "delete": "all"}})


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    yield World(engine, [*DOCUMENTS, TASK, PLANNER])


def test_a_task_links_to_a_deal_and_shows_in_its_related_lists(world: World) -> None:
    rep = world.subject("rep1", ("rep", "planner"))
    deal = world.records.create(rep, "deal", {"title": "Big"})
    task = world.records.create(rep, "task", {"subject": "Call",
                                              "regarding": {"entity": "deal", "id": deal["id"]}})
    world.records.create(rep, "task", {"subject": "Unrelated"})

    assert task["regarding"] == {"entity": "deal", "id": deal["id"]}
    found = world.records.list(rep, "task", criteria={"field": "regarding", "op": "eq",
                                                      "value": deal["id"]})
    assert [r["subject"] for r in found.records] == ["Call"]
    lists = {(item.entity.name, item.field.name): [r["subject"] for r in item.page.records]
             for item in related_lists(world.records, rep, "deal", deal["id"])}
    assert lists[("task", "regarding")] == ["Call"]


@pytest.mark.parametrize("target", ["missing deal", "unreadable company", "other entity"])
def test_a_link_the_writer_cannot_follow_is_refused_at_the_field(world: World,
                                                                 target: str) -> None:
    admin = world.admin
    us_company = world.records.create(admin, "company", {"name": "Acme US", "region": "us"})
    rep = world.subject("rep1", ("rep", "planner"))
    link = {
        "missing deal": {"entity": "deal", "id": "0190f5a8-1c2b-7d3e-8f40-123456789abc"},
        "unreadable company": {"entity": "company", "id": us_company["id"]},
        "other entity": {"entity": "deal_line", "id": us_company["id"]},
    }[target]

    with pytest.raises(ValidationFailed) as refused:
        world.records.create(rep, "task", {"subject": "Call", "regarding": link})

    (detail,) = refused.value.errors
    assert detail.pointer == "/regarding"
    assert ("does not exist" in detail.message) or ("must be one of" in detail.message)
    assert world.records.list(admin, "task").records == []


def test_deleting_the_linked_record_empties_the_link(world: World) -> None:
    admin = world.admin
    company = world.records.create(admin, "company", {"name": "Acme", "region": "eu"})
    task = world.records.create(admin, "task", {"subject": "Visit",
                                                "regarding": f"company:{company['id']}"})

    world.records.delete(admin, "company", company["id"])

    after = world.records.get(admin, "task", task["id"])
    assert after["regarding"] is None and after["version"] == task["version"] + 1
    with world.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT regarding, regarding_entity FROM crm_task")).one()
    assert tuple(stored) == (None, None)
