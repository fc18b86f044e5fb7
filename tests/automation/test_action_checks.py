"""`check()` of the built-in actions: bad params are metadata errors pointing at the param
(unknown fields, entities and transitions, bad templates, formulas and literals...), and the
shipped packs' triggers pass. Checks read only the model, so one SQLite-backed set of
services serves the whole module whatever the suite's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from actions_harness import ActionsWorld, apply_documents

from metacrm.composition import build_services
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import load_model
from web_harness import settings_for

METADATA = Path(__file__).resolve().parents[2] / "metadata"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionsWorld]:
    root = tmp_path_factory.mktemp("checks")
    services = build_services(settings_for(f"sqlite:///{root / 'checks.db'}", root))
    try:
        apply_documents(services)
        yield ActionsWorld(services)
    finally:
        services.close()


SUBJECT = {"subject": "Call"}

CASES: list[tuple[str, Any, list[tuple[str, str]]]] = [
    # set_fields
    ("set_fields", {}, [("/values", "is required")]),
    ("set_fields", {"values": {}}, [("/values", "names no field")]),
    ("set_fields", {"values": [1]}, [("/values", "must be an object")]),
    ("set_fields", {"values": {"nickname": "x"}}, [("/values/nickname", "no field 'nickname'")]),
    ("set_fields", {"values": {"note": "x"}, "when": "now"}, [("/when", "unknown parameter")]),
    ("set_fields", {"values": {"note": {"template": "{{ record.note"}}},
     [("/values/note/template", "template syntax error")]),
    ("set_fields", {"values": {"note": {"template": "{{ record.nickname }}"}}},
     [("/values/note/template", "lead has no field 'nickname'")]),
    ("set_fields", {"values": {"score": {"formula": "record.score +"}}},
     [("/values/score/formula", "formula syntax error")]),
    ("set_fields", {"values": {"score": "many"}}, [("/values/score", "whole number")]),
    ("set_fields", {"values": {"status": "won"}}, [("/values/status", "transition")]),
    ("set_fields", {"values": {"number": "L-9"}}, [("/values/number", "numbered by the engine")]),
    ("set_fields", {"values": {"owner": 17}}, [("/values/owner", "user id")]),
    # create_record
    ("create_record", {"values": SUBJECT}, [("/entity", "is required")]),
    ("create_record", {"entity": "ticket"}, [("/entity", "unknown entity 'ticket'")]),
    ("create_record", {"entity": "task"}, [("/values", "'subject' is required")]),
    ("create_record", {"entity": "task", "values": {"subject": "x", "topic": "y"}},
     [("/values/topic", "task has no field 'topic'")]),
    ("create_record", {"entity": "task", "values": SUBJECT, "link": "related_id"},
     [("/link", "reference field of task that refers to lead")]),
    ("create_record", {"entity": "task", "values": SUBJECT, "due_in": {"days": 1}},
     [("/due_in/field", "date or datetime field")]),
    ("create_record", {"entity": "task", "values": SUBJECT,
                       "due_in": {"business_days": 1, "days": 2, "field": "due_date"}},
     [("/due_in", "exactly one of")]),
    ("create_record", {"entity": "task", "values": SUBJECT,
                       "due_in": {"business_days": 1.5, "field": "subject"}},
     [("/due_in/business_days", "whole number"), ("/due_in/field", "date or datetime")]),
    ("create_record", {"entity": "task", "values": SUBJECT,
                       "due_in": {"business_days": 1, "field": "due_date", "country": "XX"}},
     [("/due_in/country", "holiday calendar")]),
    ("create_record", {"entity": "task", "values": SUBJECT, "owner": ""},
     [("/owner", "record_owner")]),
    # assign_owner
    ("assign_owner", {"strategy": "random", "team": "sales"},
     [("/strategy", "round_robin, least_loaded")]),
    ("assign_owner", {"strategy": "round_robin"}, [("/team", "is required")]),
    # transition
    ("transition", {"name": "promote"}, [("/name", "lead has no transition 'promote'")]),
    ("transition", {"name": "start", "values": {"nickname": 1}},
     [("/values/nickname", "no field 'nickname'")]),
    # send_email
    ("send_email", {"to": "owner", "subject": "s"}, [("/body", "is required")]),
    ("send_email", {"to": "note", "subject": "s", "body": "b"},
     [("/to", "email field of lead")]),
    ("send_email", {"to": ["owner", "not@an@address"], "subject": "s", "body": "b"},
     [("/to/1", "not an email address")]),
    ("send_email", {"to": [], "subject": "s", "body": "b"}, [("/to", "1 to 50 recipients")]),
    ("send_email", {"to": "owner", "subject": "{% if %}", "body": "b", "html": "{{ x }}"},
     [("/subject", "template syntax error"), ("/html", "unknown name 'x'")]),
    # copy_related
    ("copy_related", {"from": {"entity": "task", "via": "lead"}}, [
        ("/to", "is required"), ("/fields", "is required")]),
    ("copy_related", {"from": {"entity": "nothing", "via": "lead"},
                      "to": {"entity": "task", "via": "subject"}, "fields": {"subject": "x"}},
     [("/from/entity", "unknown entity"), ("/to/via", "not a reference of 'task' to 'lead'")]),
    ("copy_related", {"from": {"entity": "task", "via": "lead"},
                      "to": {"entity": "task", "via": "lead", "record": "note"},
                      "fields": {"subject": "subject"}},
     [("/to/record", "not a reference field of 'lead'")]),
    ("copy_related", {"from": {"entity": "task", "via": "lead"},
                      "to": {"entity": "task", "via": "lead"},
                      "fields": {"topic": "subject", "subject": "nope"}, "replace": "yes"},
     [("/fields/topic", "not a field of 'task'"), ("/fields/subject", "'nope' is not a field"),
      ("/replace", "true or false")]),
]


@pytest.mark.parametrize(("action", "params", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_params_are_reported_at_their_pointer(
    world: ActionsWorld, action: str, params: Any, expected: list[tuple[str, str]],
) -> None:
    errors = world.check(action, params)

    assert [e.pointer for e in errors] == [pointer for pointer, _words in expected]
    for error, (_pointer, words) in zip(errors, expected, strict=True):
        assert words in error.message


def test_params_that_are_not_an_object_are_refused(world: ActionsWorld) -> None:
    for name in world.actions.names():
        assert [e.message for e in world.check(name, ["x"])] == ["params must be an object"]


@pytest.mark.parametrize(("action", "params"), [
    ("set_fields", {"values": {"note": None, "score": {"formula": "record.score + 1"},
                               "owner": {"template": "{{ record.owner }}"}}}),
    ("create_record", {"entity": "task", "values": {"subject": {"template": "x"}},
                       "link": "lead", "owner": "record_owner",
                       "due_in": {"business_days": 2, "field": "due_date", "country": "US"}}),
    ("assign_owner", {"strategy": "least_loaded", "team": "sales east"}),
    ("transition", {"name": "win", "values": {"amount": {"amount": "10", "currency": "USD"}}}),
    ("send_email", {"to": ["owner", "email", "boss@example.com"], "subject": "s",
                    "body": "b", "html": "<p>{{ record.last_name }}</p>"}),
    ("copy_related", {"from": {"entity": "task", "via": "lead"},
                      "to": {"entity": "task", "via": "lead"},
                      "fields": {"subject": "subject"}, "replace": False}),
])
def test_good_params_pass(world: ActionsWorld, action: str, params: Any) -> None:
    assert world.check(action, params) == []


def test_every_builtin_action_is_registered(world: ActionsWorld) -> None:
    assert set(world.actions.names()) >= {
        "set_fields", "create_record", "assign_owner", "transition", "send_email",
        "copy_related"}


def test_the_shipped_triggers_use_builtin_actions_with_valid_params(
    world: ActionsWorld,
) -> None:
    shipped = load_model([METADATA], default_registry())
    checked = []
    for trigger in shipped.triggers.values():
        for index, action_def in enumerate(trigger.actions):
            action = world.actions.get(action_def.type)
            assert action is not None, f"{trigger.name}: unknown action {action_def.type}"
            errors = action.check(action_def.params, shipped.entities[trigger.entity], shipped)
            assert errors == [], f"{trigger.name} /actions/{index}: {errors}"
            checked.append((trigger.name, action_def.type))

    assert ("lead_follow_up_task", "create_record") in checked
    assert ("deal_won_notify_owner", "send_email") in checked
