"""The built-in actions against a real database through `build_services`: what each one
writes (or, in a dry run, only describes), with templates and formulas in its values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from actions_harness import TRIGGER, ActionsWorld, open_world

from metacrm.composition import build_services
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.loader import read_documents
from metacrm.storage.system_tables import round_robin_positions
from web_harness import settings_for

FRIDAY_MORNING = datetime(2024, 5, 3, 9, 30, tzinfo=UTC)
METADATA = Path(__file__).resolve().parents[2] / "metadata"


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[ActionsWorld]:
    with open_world(isolated_database_url, tmp_path) as opened:
        yield opened


# --- set_fields ------------------------------------------------------------------------------

def test_set_fields_writes_literals_templates_and_formulas(world: ActionsWorld) -> None:
    lead = world.lead(first_name="Ann", amount={"amount": "1250.00"}, score=10, rate="1.5")

    result = world.run("set_fields", {"values": {
        "note": {"template": "Call {{ record.first_name }} ({{ record.amount }})"},
        "commission": {"formula": "record.amount * 0.1"},
        "score": {"formula": "record.score + 5"},
        "rate": {"formula": "record.rate * 0.1"},
        "follow_up": "2024-06-01",
    }}, lead)

    stored = world.get("lead", lead["id"])
    assert stored["note"] == "Call Ann (1250.00 USD)"
    assert stored["commission"] == {"amount": "125.00", "currency": "USD"}
    assert (stored["score"], stored["rate"], stored["follow_up"]) == (15, "0.15", "2024-06-01")
    assert stored["updated_by"] == f"trigger:{TRIGGER}"
    assert result["updated"]["id"] == lead["id"]
    assert result["updated"]["version"] == stored["version"]


def test_a_formula_result_the_field_refuses_is_a_422_naming_the_field(
    world: ActionsWorld,
) -> None:
    lead = world.lead(score=10)

    with pytest.raises(ValidationFailed) as failure:
        world.run("set_fields", {"values": {"note": "kept?",
                                            "score": {"formula": "record.score / 3"}}}, lead)

    assert [e.pointer for e in failure.value.errors] == ["/values/score/formula"]
    assert "'score'" in failure.value.errors[0].message
    assert world.get("lead", lead["id"])["note"] is None


def test_set_fields_sees_the_previous_values(world: ActionsWorld) -> None:
    lead = world.lead(score=30)

    world.run("set_fields", {"values": {
        "note": {"template": "score {{ previous.score }} -> {{ record.score }}"}}},
        lead, previous={"score": 20})

    assert world.get("lead", lead["id"])["note"] == "score 20 -> 30"


def test_a_template_reaching_for_python_internals_is_reported_not_run(
    world: ActionsWorld,
) -> None:
    lead = world.lead()
    params = {"values": {"note": {"template": "{{ record.last_name.__class__.__mro__ }}"}}}

    with pytest.raises(ValidationFailed) as failure:
        world.run("set_fields", params, lead)

    assert failure.value.errors[0].pointer == "/values/note/template"
    assert "not allowed in the sandbox" in failure.value.errors[0].message


# --- create_record ---------------------------------------------------------------------------

def test_create_record_links_a_task_due_in_two_business_days(world: ActionsWorld) -> None:
    lead = world.lead(first_name="Ann", owner="17")

    result = world.run("create_record", {
        "entity": "task",
        "values": {"subject": {"template": "Call {{ record.first_name }} {{ record.last_name }}"},
                   "related_entity": "lead", "related_id": {"template": "{{ record.id }}"}},
        "link": "lead",
        "due_in": {"business_days": 2, "field": "due_date"},
        "owner": "record_owner",
    }, lead, now=FRIDAY_MORNING)

    task = world.get("task", result["created"]["id"])
    assert task["subject"] == "Call Ann Lee"
    assert task["due_date"] == "2024-05-07"  # Friday + 2 business days = Tuesday
    assert (task["lead"], task["related_entity"], task["related_id"]) == (
        lead["id"], "lead", lead["id"])
    assert task["owner"] == "17"
    assert task["status"] == "open"
    assert task["created_by"] == f"trigger:{TRIGGER}"


def test_create_record_sets_a_datetime_due_field_and_an_explicit_owner(
    world: ActionsWorld,
) -> None:
    lead = world.lead(owner="17")

    result = world.run("create_record", {
        "entity": "task", "values": {"subject": "Check in"},
        "due_in": {"days": 3, "field": "due_at"}, "owner": "42",
    }, lead, now=FRIDAY_MORNING)

    task = world.get("task", result["created"]["id"])
    assert task["due_at"] == "2024-05-06T09:30:00Z"
    assert task["owner"] == "42"


# --- assign_owner ----------------------------------------------------------------------------

def make_team(world: ActionsWorld, name: str, members: list[str]) -> None:
    teams = world.services.teams
    with world.services.engine.begin() as conn:
        teams.create_team(conn, name)
        for member in members:
            teams.add_member(conn, name, member)


def test_round_robin_cycles_through_the_team(world: ActionsWorld) -> None:
    make_team(world, "inside sales", ["11", "12", "13"])
    params = {"strategy": "round_robin", "team": "inside sales"}

    owners = []
    for _ in range(4):
        lead = world.lead()
        world.run("assign_owner", params, lead)
        owners.append(world.get("lead", lead["id"])["owner"])

    assert owners == ["11", "12", "13", "11"]


def test_round_robin_keeps_one_rotation_per_entity(world: ActionsWorld) -> None:
    make_team(world, "sales", ["11", "12"])
    params = {"strategy": "round_robin", "team": "sales"}
    world.run("assign_owner", params, world.lead())
    with world.services.engine.begin() as conn:
        conn.execute(round_robin_positions.insert().values(team="sales", entity="task",
                                                           position=0))

    lead = world.lead()
    world.run("assign_owner", params, lead)

    assert world.get("lead", lead["id"])["owner"] == "12"


def test_least_loaded_picks_the_member_with_fewest_open_records(world: ActionsWorld) -> None:
    make_team(world, "sales", ["11", "12", "13"])
    for owner, count in (("11", 2), ("12", 1), ("13", 2)):
        for _ in range(count):
            world.lead(owner=owner)
    transitions = world.services.transitions
    for _ in range(3):  # closed records do not count: 12 owns 4, of which 1 is open
        lost = world.lead(owner="12")
        transitions.transition(world.subject, "lead", lost["id"], "lose")
    lead = world.lead(owner="11")

    result = world.run("assign_owner", {"strategy": "least_loaded", "team": "sales"}, lead)

    assert result["assigned"]["owner"] == "12"
    assert world.get("lead", lead["id"])["owner"] == "12"


def test_assigning_to_an_unknown_or_empty_team_is_a_clear_error(world: ActionsWorld) -> None:
    make_team(world, "empty", [])
    lead = world.lead()

    for team, words in (("ghosts", "there is no team 'ghosts'"), ("empty", "has no members")):
        with pytest.raises(ValidationFailed, match=words) as failure:
            world.run("assign_owner", {"strategy": "round_robin", "team": team}, lead)
        assert failure.value.errors[0].pointer == "/team"


# --- transition ------------------------------------------------------------------------------

def test_transition_moves_the_record_and_writes_its_values(world: ActionsWorld) -> None:
    lead = world.lead()

    result = world.run("transition", {
        "name": "start", "values": {"note": {"template": "started by {{ trigger.name }}"}},
    }, lead)

    stored = world.get("lead", lead["id"])
    assert (stored["status"], stored["note"]) == ("working", f"started by {TRIGGER}")
    assert result["transitioned"]["state"] == "working"


def test_a_transition_whose_guard_fails_is_reported(world: ActionsWorld) -> None:
    lead = world.lead()
    world.run("transition", {"name": "start"}, lead)

    with pytest.raises(ValidationFailed):
        world.run("transition", {"name": "win"}, world.get("lead", lead["id"]))

    assert world.get("lead", lead["id"])["status"] == "working"


# --- dry runs --------------------------------------------------------------------------------

def test_a_runaway_template_fails_the_dry_run_with_a_clear_error(world: ActionsWorld) -> None:
    """Issue 11, F6: such templates once hung the request and grew memory."""
    lead = world.lead(first_name="Ann")
    for template, reason in (
        ("{{ 'a'|center(200000000) }}", "the width of center is limited to 100000"),
        ("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
         "took longer than 0.5 s and was stopped"),
    ):
        with pytest.raises(ValidationFailed) as failure:
            world.run("set_fields", {"values": {"first_name": {"template": template}}},
                      lead, dry_run=True)
        (error,) = failure.value.errors
        assert error.pointer == "/values/first_name/template"
        assert reason in error.message


def count_rows(world: ActionsWorld, table: str) -> int:
    with world.services.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_dry_runs_describe_and_write_nothing(world: ActionsWorld) -> None:
    make_team(world, "sales", ["11", "12"])
    lead = world.lead(first_name="Ann", owner="17", score=1)
    audit_rows = count_rows(world, "metacrm_audit")

    updated = world.run("set_fields", {"values": {"score": {"formula": "record.score + 1"}}},
                        lead, dry_run=True)
    created = world.run("create_record", {
        "entity": "task", "values": {"subject": {"template": "Call {{ record.first_name }}"}},
        "link": "lead", "due_in": {"business_days": 2, "field": "due_date"}},
        lead, dry_run=True, now=FRIDAY_MORNING)
    assigned = world.run("assign_owner", {"strategy": "round_robin", "team": "sales"}, lead,
                         dry_run=True)
    moved = world.run("transition", {"name": "start"}, lead, dry_run=True)

    assert updated == {"would_update": {"entity": "lead", "id": lead["id"],
                                        "values": {"score": 2}}}
    assert created["would_create"]["values"] == {
        "subject": "Call Ann", "lead": lead["id"], "due_date": "2024-05-07", "owner": "17"}
    assert assigned["would_assign"]["owner"] == "11"
    assert moved["would_transition"]["to"] == "working"
    assert world.get("lead", lead["id"]) == lead
    assert world.records("task") == []
    assert count_rows(world, "metacrm_audit") == audit_rows
    # the dry run did not advance the rotation: the first real assignment gets 11
    world.run("assign_owner", {"strategy": "round_robin", "team": "sales"}, lead)
    assert world.get("lead", lead["id"])["owner"] == "11"


def test_a_dry_run_reports_values_the_write_would_refuse(world: ActionsWorld) -> None:
    lead = world.lead()

    with pytest.raises(ValidationFailed) as failure:
        world.run("set_fields", {"values": {"follow_up": {"template": "soon"}}}, lead,
                  dry_run=True)

    assert failure.value.errors[0].pointer == "/values/follow_up"


# --- the shipped packs -----------------------------------------------------------------------

def test_the_shipped_follow_up_trigger_gives_the_owner_a_call_task(
    isolated_database_url: str, tmp_path: Path,
) -> None:
    services = build_services(settings_for(isolated_database_url, tmp_path))
    try:
        documents, errors = read_documents([METADATA])
        assert errors == []
        services.metadata.apply(documents, author="test")
        world = ActionsWorld(services)
        trigger = world.model.triggers["lead_follow_up_task"]
        (action,) = trigger.actions
        lead = world.services.records.create(world.subject, "lead", {
            "first_name": "Ann", "last_name": "Lee", "owner": "17"})

        result = world.run(action.type, action.params, lead, now=FRIDAY_MORNING)

        task = world.get("task", result["created"]["id"])
        assert (task["subject"], task["due_date"], task["owner"]) == (
            "Call the new lead", "2024-05-07", "17")
        assert (task["lead"], task["regarding"], task["status"]) == (
            lead["id"], {"entity": "lead", "id": lead["id"]}, "open")
    finally:
        services.close()
