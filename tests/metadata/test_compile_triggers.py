"""Trigger documents: the event options of field_changed, time and scheduled triggers, modes."""

from __future__ import annotations

from typing import Any

import pytest
from metadata_builders import (
    as_documents,
    compile_errors,
    compiled,
    document,
    entity,
    field,
    find,
    labels,
)

from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.compiler import compile_model

ACTION = [{"type": "set_fields", "params": {"values": {"title": "x"}}}]
CHOICES = [{"value": v, "label": labels(v)} for v in ("cold", "warm", "hot")]
LEAD = entity("lead", field("title"), field("rating", "picklist", choices=CHOICES),
              field("score", "integer"), field("due", "date"))


def trigger(name: str, event: str, **extra: Any) -> dict[str, Any]:
    return document("trigger", name, entity="lead", event=event, actions=ACTION, **extra)


def test_field_changed_keeps_from_to_and_condition_before(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, LEAD, trigger(
        "heated", "field_changed", fields=["rating"], to=["hot"], **{"from": ["cold", None]},
        condition_before={"field": "score", "op": "lt", "value": 10}))

    heated = model.triggers["heated"]
    assert heated.options["from"] == ("cold", None)
    assert heated.options["to"] == ("hot",)
    assert heated.condition_before == {"field": "score", "op": "lt", "value": 10}


def test_from_and_to_need_one_watched_field_and_its_values(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(
        registry, LEAD,
        trigger("two", "field_changed", fields=["rating", "score"], to=["hot"]),
        trigger("bad_value", "field_changed", fields=["rating"], to=["boiling"],
                **{"from": ["cold"]}),
        trigger("bad_number", "field_changed", fields=["score"], **{"from": ["many"]}))

    assert "exactly one watched field" in find(errors, "two.json", "/to").message
    assert "'boiling' is not a value of field 'rating'" in find(
        errors, "bad_value.json", "/to/0").message
    assert "not a value of field 'score'" in find(errors, "bad_number.json", "/from/0").message
    assert not [e for e in errors if e.source.endswith("bad_value.json")
                and e.pointer.startswith("/from")]


def test_condition_before_is_checked_like_condition(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, LEAD, trigger(
        "t", "updated", condition_before={"field": "nope", "op": "eq", "value": 1}))

    assert "nope" in find(errors, "t.json", "/condition_before/field").message


def test_condition_before_is_only_for_events_with_a_before(
        registry: FieldTypeRegistry) -> None:
    with pytest.raises(MetadataInvalid) as caught:
        compile_model(as_documents(LEAD, trigger(
            "t", "created", condition_before={"field": "score", "op": "eq", "value": 1})),
            registry)

    assert any(e.pointer == "/condition_before" for e in caught.value.errors)


@pytest.mark.parametrize("event, options", [
    ("time", {"date_field": "due"}),
    ("scheduled", {"cron": "0 9 * * *"}),
])
def test_time_and_scheduled_triggers_cannot_be_sync(
        registry: FieldTypeRegistry, event: str, options: dict[str, Any]) -> None:
    errors = compile_errors(registry, LEAD, trigger("t", event, mode="sync", **options))

    assert "cannot be sync" in find(errors, "t.json", "/mode").message
    compiled(registry, LEAD, trigger("t", event, mode="async", **options))


def test_a_time_trigger_may_count_from_updated_at_but_not_from_owner(
        registry: FieldTypeRegistry) -> None:
    model = compiled(registry, LEAD, trigger("stale", "time", date_field="updated_at",
                                             offset={"days": 7}))
    assert model.triggers["stale"].options["date_field"] == "updated_at"

    errors = compile_errors(registry, LEAD, trigger("t", "time", date_field="owner"))
    assert "not a date" in find(errors, "t.json", "/date_field").message


@pytest.mark.parametrize("cron, reason", [
    ("61 * * * *", "not a valid five-field cron expression"),
    ("a b c d e", "not a valid five-field cron expression"),
    ("0 9 30 2 *", "never matches a date"),
])
def test_bad_cron_expressions_are_refused(
        registry: FieldTypeRegistry, cron: str, reason: str) -> None:
    errors = compile_errors(registry, LEAD, trigger("t", "scheduled", cron=cron))

    assert reason in find(errors, "t.json", "/cron").message


def test_cron_needs_five_fields_and_a_known_time_zone(registry: FieldTypeRegistry) -> None:
    six_fields = compile_errors(registry, LEAD, trigger("t", "scheduled", cron="* * * * * *"))
    assert find(six_fields, "t.json", "/cron")

    zone = compile_errors(registry, LEAD, trigger("t", "scheduled", cron="0 9 * * 1-5",
                                                  timezone="Mars/Olympus_Mons"))
    assert "unknown time zone 'Mars/Olympus_Mons'" in find(zone, "t.json", "/timezone").message

    model = compiled(registry, LEAD, trigger("t", "scheduled", cron="0 9 * * 1-5",
                                             timezone="Europe/Berlin"))
    assert model.triggers["t"].options["timezone"] == "Europe/Berlin"
