"""Validation rules through the records service: a save that breaks an entity's rule is
refused with the rule's message at its field and writes nothing; `when` limits the records
a rule judges, `on` the writes; rules see the record as it will be (stored values merged
with the change, computed fields included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import World, entity, field, role

from metacrm.automation.formulas import Formulas
from metacrm.computed.evaluate import Evaluator
from metacrm.computed.saves import ComputedSaves
from metacrm.services.records.validation_rules import RuleViolated

LOST = {"field": "status", "op": "eq", "value": "lost"}
STATUSES = [{"value": v, "label": {"en": v, "ru": v}} for v in ("open", "won", "lost")]
REASON_RULE = {"name": "lost_needs_reason", "when": LOST, "field": "reason",
               "require": {"field": "reason", "op": "is_null", "value": False},
               "message": {"en": "Say why the deal was lost.",
                           "ru": "Укажите причину проигрыша."}}
BUDGET_RULE = {"name": "within_budget", "on": ["create"],
               "when": {"field": "total", "op": "is_null", "value": False},
               "require": {"field": "total", "op": "lte", "value": 1000},
               "message": {"en": "Over budget.", "ru": "Сверх бюджета."}}

BODIES: list[dict[str, Any]] = [
    entity("deal", field("title", "text"), field("status", "picklist", choices=STATUSES),
           field("reason", "text"), field("quantity", "integer"), field("price", "integer"),
           field("total", "formula", result="integer", expression="quantity * price"),
           validations=[REASON_RULE, BUDGET_RULE]),
    role("rep", entities={"deal": {"read": "own", "create": "own", "update": "own"}}),
    role("admin", admin=True),
]


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    world = World(engine, BODIES)
    world.records.computed = ComputedSaves(world.records, Evaluator(Formulas(world.registry)))
    yield world


def test_a_broken_rule_refuses_the_save_at_its_field_and_writes_nothing(world: World) -> None:
    rep = world.subject("rep1", ("rep",))
    with pytest.raises(RuleViolated) as refused:
        world.records.create(rep, "deal", {"title": "A", "status": "lost"})
    assert [(e.pointer, e.message) for e in refused.value.errors] == [
        ("/reason", "Say why the deal was lost.")]
    assert refused.value.messages[refused.value.errors[0]]["ru"] == "Укажите причину проигрыша."
    assert refused.value.to_problem()["status"] == 422
    assert world.records.list(world.admin, "deal").records == []

    made = world.records.create(rep, "deal", {"title": "A", "status": "lost", "reason": "price"})
    assert made["reason"] == "price"


def test_when_limits_the_records_a_rule_judges_on_update_too(world: World) -> None:
    deal = world.records.create(world.admin, "deal", {"title": "A", "status": "open"})
    with pytest.raises(RuleViolated):  # the stored record merged with the change is judged
        world.records.update(world.admin, "deal", deal["id"], {"status": "lost"})
    assert world.records.get(world.admin, "deal", deal["id"])["status"] == "open"
    updated = world.records.update(world.admin, "deal", deal["id"], {"title": "B"})
    assert updated["title"] == "B"


def test_rules_read_computed_fields_and_on_limits_the_writes(world: World) -> None:
    with pytest.raises(RuleViolated) as refused:
        world.records.create(world.admin, "deal", {"title": "A", "quantity": 11, "price": 100})
    assert [(e.pointer, e.message) for e in refused.value.errors] == [("", "Over budget.")]
    deal = world.records.create(world.admin, "deal", {"title": "A", "quantity": 10,
                                                      "price": 100})
    # the budget rule checks creation only
    updated = world.records.update(world.admin, "deal", deal["id"], {"quantity": 20})
    assert updated["total"] == 2000


def test_several_broken_rules_are_reported_together(world: World) -> None:
    with pytest.raises(RuleViolated) as refused:
        world.records.create(world.admin, "deal", {"status": "lost", "quantity": 2,
                                                   "price": 1000})
    assert [rule.name for rule in refused.value.rules] == ["lost_needs_reason", "within_budget"]
    assert "'lost_needs_reason', 'within_budget'" in refused.value.message
