"""Which triggers an event fires: event kinds, field_changed from/to, conditions before and
after, transitioned filters. Pure: a compiled model and event payloads, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from trigger_world import LEAD, LEAD_FLOW, TASK, set_fields, trigger

from metacrm.automation.matching import RecordChange, TriggerMatcher, change_of
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RECORD = {"id": "r1", "name": "Ann", "rating": "hot", "status": "new", "counter": 5,
          "stage": "working", "owner": "u1", "created_at": "2024-04-01T10:00:00Z"}
ACTION = set_fields(note="x")


def matcher(*triggers: dict[str, Any]) -> TriggerMatcher:
    bodies = [LEAD, TASK, LEAD_FLOW, *triggers]
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t") for b in bodies]
    registry = default_registry()
    return TriggerMatcher(compile_model(documents, registry), registry)


def event(kind: str, record: dict[str, Any] = RECORD, **extra: Any) -> RecordChange:
    payload = {"version": 1, "entity": "lead", "id": record["id"], "record": record,
               "actor": "u1", "occurred_at": "2024-05-01T12:00:00Z", **extra}
    change = change_of(f"record.{kind}", payload)
    assert change is not None
    return change


def fired(m: TriggerMatcher, change: RecordChange) -> list[str]:
    return [t.name for t in m.fired(change) if m.condition_holds(t, change, NOW)]


def test_each_record_event_fires_its_kinds_of_trigger() -> None:
    m = matcher(*(trigger(kind, kind, ACTION) for kind in ("created", "updated", "deleted")),
                trigger("moved", "transitioned", ACTION),
                trigger("rating", "field_changed", ACTION, fields=["rating"]))
    transition = {"pipeline": "lead_flow", "name": "start", "from": "new", "to": "working"}

    assert fired(m, event("created")) == ["created"]
    assert fired(m, event("deleted")) == ["deleted"]
    assert fired(m, event("updated", changed=["note"], previous={"note": None})) == ["updated"]
    assert fired(m, event("updated", changed=["rating"], previous={"rating": "warm"})) == [
        "rating", "updated"]
    assert fired(m, event("transitioned", changed=["stage"], previous={"stage": "new"},
                          transition=transition)) == ["moved", "updated"]
    assert change_of("webhook.ping", {"record": RECORD, "entity": "lead"}) is None


def test_disabled_triggers_and_other_entities_never_fire() -> None:
    m = matcher(trigger("off", "created", ACTION, enabled=False),
                trigger("tasks", "created", ACTION, entity="task"))

    assert fired(m, event("created")) == []


@pytest.mark.parametrize("previous, record_rating, fires", [
    ({"rating": "cold"}, "hot", True),
    ({"rating": None}, "hot", True),       # from empty (null in `from`)
    ({"rating": "warm"}, "hot", False),    # not from cold or empty
    ({"rating": "cold"}, "warm", False),   # not to hot
])
def test_field_changed_from_to(previous: dict[str, Any], record_rating: str,
                               fires: bool) -> None:
    m = matcher(trigger("heated", "field_changed", ACTION, fields=["rating"],
                        to=["hot"], **{"from": ["cold", None]}))
    change = event("updated", {**RECORD, "rating": record_rating}, changed=["rating"],
                   previous=previous)

    assert (fired(m, change) == ["heated"]) is fires


def test_field_changed_needs_a_watched_field_among_the_changed() -> None:
    m = matcher(trigger("watch", "field_changed", ACTION, fields=["rating", "status"]))

    assert fired(m, event("updated", changed=["status"], previous={"status": "contacted"})
                 ) == ["watch"]
    assert fired(m, event("updated", changed=["note"], previous={"note": "a"})) == []


def test_condition_is_on_the_record_after_and_condition_before_on_the_record_before() -> None:
    m = matcher(trigger("crossed", "field_changed", ACTION, fields=["counter"],
                        condition={"field": "counter", "op": "gte", "value": 5},
                        condition_before={"field": "counter", "op": "lt", "value": 5}))

    crossed = event("updated", {**RECORD, "counter": 5}, changed=["counter"],
                    previous={"counter": 4})
    already = event("updated", {**RECORD, "counter": 6}, changed=["counter"],
                    previous={"counter": 5})
    below = event("updated", {**RECORD, "counter": 3}, changed=["counter"],
                  previous={"counter": 2})
    assert fired(m, crossed) == ["crossed"]
    assert fired(m, already) == []
    assert fired(m, below) == []


def test_conditions_read_json_values_as_their_types() -> None:
    m = matcher(trigger("recent", "created", ACTION, condition={"and": [
        {"field": "created_at", "op": "gte", "value": {"$now": {"days": -31}}},
        {"field": "rating", "op": "in", "value": ["warm", "hot"]},
        {"field": "owner", "op": "eq", "value": "$user"}]}))

    assert fired(m, event("created")) == ["recent"]
    assert fired(m, event("created", {**RECORD, "created_at": "2024-01-01T00:00:00Z"})) == []
    assert fired(m, event("created", {**RECORD, "owner": "someone else"})) == []


@pytest.mark.parametrize("options, fires", [
    ({}, True),
    ({"pipeline": "lead_flow"}, True),
    ({"transitions": ["start"]}, True),
    ({"transitions": ["win"]}, False),
    ({"from_states": ["new"]}, True),
    ({"from_states": ["working"]}, False),
    ({"to_states": ["working", "won"]}, True),
    ({"to_states": ["won"]}, False),
])
def test_transitioned_filters(options: dict[str, Any], fires: bool) -> None:
    m = matcher(trigger("moved", "transitioned", ACTION, **options))
    change = event("transitioned", changed=["stage"], previous={"stage": "new"},
                   transition={"pipeline": "lead_flow", "name": "start", "from": "new",
                               "to": "working"})

    assert (fired(m, change) == ["moved"]) is fires
    assert fired(m, event("updated", changed=["stage"], previous={"stage": "new"})) == []


def test_sync_and_async_triggers_are_told_apart() -> None:
    m = matcher(trigger("now", "created", ACTION, mode="sync"),
                trigger("later", "created", ACTION))

    assert [t.name for t in m.fired(event("created"), mode="sync")] == ["now"]
    assert [t.name for t in m.fired(event("created"), mode="async")] == ["later"]
