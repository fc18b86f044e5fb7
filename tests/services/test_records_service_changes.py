"""Record changes at the records service: audit trail and outbox in the same transaction,
optimistic locking under concurrency, pipeline states, owners, references, bulk writes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import World

from metacrm.kernel.errors import Forbidden, StaleRecord, ValidationFailed
from metacrm.storage import audit, outbox
from metacrm.storage.system_tables import audit as audit_table
from metacrm.storage.system_tables import outbox as outbox_table


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    yield World(engine)


def counts(world: World) -> tuple[int, int, int]:
    """Deals, audit rows and outbox events in the database."""
    with world.engine.connect() as conn:
        return (
            conn.execute(sa.text("SELECT count(*) FROM crm_deal")).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(audit_table)).scalar_one(),
            conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar_one(),
        )


def events(world: World, record_id: str) -> list[outbox.OutboxEvent]:
    with world.engine.connect() as conn:
        return outbox.events_for(conn, "deal", record_id)


def trail(world: World, record_id: str) -> list[audit.AuditEntry]:
    with world.engine.connect() as conn:
        return audit.entries_for(conn, "deal", record_id)


def test_every_change_writes_its_audit_rows_and_event(world: World) -> None:
    rep = world.subject("rep1")
    created = world.records.create(rep, "deal", {"title": "A", "amount": "10"})
    updated = world.records.update(rep, "deal", created["id"], {"amount": "12.5",
                                                                "title": "A"},
                                   expected_version=1)
    world.records.delete(rep, "deal", created["id"], expected_version=2)

    kinds = [(e.type, e.payload.get("changed")) for e in events(world, created["id"])]
    assert kinds == [("record.created", None), ("record.updated", ["amount"]),
                     ("record.deleted", None)]
    first, second, third = events(world, created["id"])
    # the whole record, JSON form, hidden fields included (consumers apply field security)
    assert first.payload["record"] == {**created, "margin": None, "internal_code": None}
    assert second.payload["record"]["amount"] == "12.50" == updated["amount"]
    assert (second.payload["version"], second.payload["actor"]) == (1, "rep1")
    assert third.payload["record"]["version"] == 2

    rows = [(e.action, e.field, e.old, e.new, e.event_id) for e in trail(world, created["id"])]
    deleted = [r for r in rows if r[0] == "deleted"]
    assert {(f, o, n) for _a, f, o, n, _e in deleted} == {
        ("title", "A", None), ("amount", "12.50", None), ("stage", "new", None),
        ("owner", "rep1", None)}
    assert {r[4] for r in deleted} == {third.id}
    assert [r[1:4] for r in rows if r[0] == "updated"] == [("amount", "10.00", "12.50")]
    assert {(f, n) for a, f, _o, n, _e in rows if a == "created"} == {
        ("title", "A"), ("amount", "10.00"), ("stage", "new"), ("owner", "rep1")}
    assert rows[0][0] == "deleted" and rows[-1][0] == "created"  # newest first


def test_records_changed_by_on_delete_rules_are_audited_and_published(world: World) -> None:
    admin, rep = world.admin, world.subject("rep1")
    company = world.records.create(admin, "company", {"name": "Acme", "region": "eu"})
    deal = world.records.create(rep, "deal", {"title": "D", "company": company["id"]})
    line = world.records.create(admin, "deal_line", {"label": "L", "deal": deal["id"]})

    world.records.delete(admin, "company", company["id"])  # deal.company: set_null
    emptied = world.records.get(rep, "deal", deal["id"])
    assert (emptied["company"], emptied["version"]) == (None, 2)
    newest = trail(world, deal["id"])[0]
    assert (newest.field, newest.old, newest.new, newest.actor) == (
        "company", company["id"], None, "admin")
    assert [(e.type, e.payload.get("changed")) for e in events(world, deal["id"])][-1] == (
        "record.updated", ["company"])

    world.records.delete(rep, "deal", deal["id"])  # deal_line.deal: cascade
    with world.engine.connect() as conn:
        line_trail = audit.entries_for(conn, "deal_line", line["id"])
        line_events = outbox.events_for(conn, "deal_line", line["id"])
    assert {(e.action, e.field, e.old, e.actor) for e in line_trail if e.action == "deleted"} == {
        ("deleted", "label", "L", "rep1"), ("deleted", "deal", deal["id"], "rep1"),
        ("deleted", "owner", "admin", "rep1")}
    assert [e.type for e in line_events] == ["record.created", "record.deleted"]


@pytest.mark.parametrize("failing", ["write_entries", "append"])
def test_a_failure_in_the_unit_of_work_leaves_no_row_no_audit_no_event(
    world: World, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    admin = world.admin
    kept = world.records.create(admin, "deal", {"title": "Kept", "amount": "1"})
    before = counts(world)

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("injected failure")

    module = audit if failing == "write_entries" else outbox
    monkeypatch.setattr(module, failing, boom)
    attempts = [
        lambda: world.records.create(admin, "deal", {"title": "Lost"}),
        lambda: world.records.bulk_create(admin, "deal", [{"title": "L1"}, {"title": "L2"}]),
        lambda: world.records.update(admin, "deal", kept["id"], {"amount": "2"}),
        lambda: world.records.delete(admin, "deal", kept["id"]),
    ]
    for attempt in attempts:
        with pytest.raises(RuntimeError, match="injected failure"):
            attempt()
    monkeypatch.undo()
    assert counts(world) == before
    assert world.records.get(admin, "deal", kept["id"])["amount"] == "1.00"


def test_of_two_concurrent_updates_from_one_version_exactly_one_wins(world: World) -> None:
    rep = world.subject("rep1")
    created = world.records.create(rep, "deal", {"title": "Race"})
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(title: str) -> None:
        barrier.wait()
        try:
            world.records.update(rep, "deal", created["id"], {"title": title},
                                 expected_version=1)
            outcomes[title] = "won"
        except StaleRecord as exc:
            outcomes[title] = exc

    threads = [threading.Thread(target=attempt, args=(t,)) for t in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [title for title, result in outcomes.items() if result == "won"]
    losers = [result for result in outcomes.values() if isinstance(result, StaleRecord)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].status == 412
    stored = world.records.get(rep, "deal", created["id"])
    assert (stored["title"], stored["version"]) == (winners[0], 2)
    assert [e.type for e in events(world, created["id"])] == ["record.created",
                                                              "record.updated"]


def test_states_start_initial_and_move_only_through_transitions(world: World) -> None:
    admin = world.admin
    assert world.records.create(admin, "deal", {"title": "A"})["stage"] == "new"
    given = world.records.create(admin, "deal", {"title": "B", "stage": "new"})
    assert given["stage"] == "new"
    for stage in ("won", "lost"):
        with pytest.raises(ValidationFailed) as refused:
            world.records.create(admin, "deal", {"title": "C", "stage": stage})
        assert [e.pointer for e in refused.value.errors] == ["/stage"]
    with pytest.raises(ValidationFailed) as refused:
        world.records.update(admin, "deal", given["id"], {"stage": "won"})
    assert [e.pointer for e in refused.value.errors] == ["/stage"]
    same = world.records.update(admin, "deal", given["id"], {"stage": "new"})
    assert same["version"] == 1


def test_owners_can_be_reassigned_only_within_the_update_scope(world: World) -> None:
    rep, lead = world.subject("rep1"), world.subject("lead")
    deal = world.records.create(rep, "deal", {"title": "Mine"})
    with pytest.raises(Forbidden):  # a rep with `own` cannot give a deal away
        world.records.update(rep, "deal", deal["id"], {"owner": "rep2"})
    moved = world.records.update(lead, "deal", deal["id"], {"owner": "rep2"})
    assert moved["owner"] == "rep2"  # rep2 is in a sub-team of the lead's team
    with pytest.raises(Forbidden):  # rep3 is outside the lead's team
        world.records.update(lead, "deal", deal["id"], {"owner": "rep3"})
    assert world.records.get(world.admin, "deal", deal["id"])["owner"] == "rep2"
    owners = [(e.old, e.new) for e in trail(world, deal["id"]) if e.field == "owner"]
    assert owners[0] == ("rep1", "rep2")


def test_references_must_point_at_records_the_writer_may_read(world: World) -> None:
    admin, rep = world.admin, world.subject("rep1")
    us = world.records.create(admin, "company", {"name": "US Co", "region": "us"})
    eu = world.records.create(admin, "company", {"name": "EU Co", "region": "eu"})
    with pytest.raises(ValidationFailed) as refused:
        world.records.create(rep, "deal", {"title": "X", "company": us["id"]})
    missing = "00000000-0000-7000-8000-000000000000"
    with pytest.raises(ValidationFailed) as absent:
        world.records.create(rep, "deal", {"title": "X", "company": missing})
    assert [(e.pointer, e.message) for e in refused.value.errors] == [
        (e.pointer, e.message) for e in absent.value.errors]
    deal = world.records.create(rep, "deal", {"title": "X", "company": eu["id"]})
    with pytest.raises(ValidationFailed):
        world.records.update(rep, "deal", deal["id"], {"company": us["id"]})
    assert world.records.create(admin, "deal", {"title": "Y", "company": us["id"]})


def test_records_outside_the_create_scope_are_refused(engine: sa.Engine) -> None:
    from records_world import DOCUMENTS, role

    eu_writer = role("eu_writer", entities={"deal": {
        "read": "all", "create": "all", "update": "all",
        "rules": [{"field": "region", "op": "eq", "value": "eu"}]}})
    world = World(engine, [*DOCUMENTS, eu_writer])
    writer = world.subject("rep1", ("eu_writer",))
    assert world.records.create(writer, "deal", {"title": "E", "region": "eu"})
    with pytest.raises(Forbidden):
        world.records.create(writer, "deal", {"title": "U", "region": "us"})
    eu = world.records.create(writer, "deal", {"title": "E2", "region": "eu"})
    with pytest.raises(Forbidden):  # the change would take it out of the writer's reach
        world.records.update(writer, "deal", eu["id"], {"region": "us"})
    assert [r["title"] for r in world.records.list(world.admin, "deal").records] == [
        "E", "E2"]
    assert counts(world)[2] == 2  # no event of the refused writes


def test_bulk_writes_are_all_or_nothing_with_pointers(world: World) -> None:
    admin = world.admin
    before = counts(world)
    with pytest.raises(ValidationFailed) as refused:
        world.records.bulk_create(admin, "deal", [{"title": "A"}, {"title": "B"},
                                                  {"amount": "x"}, {"title": "D"}])
    assert {e.pointer for e in refused.value.errors} == {"/2/title", "/2/amount"}
    with pytest.raises(ValidationFailed) as too_many:
        world.records.bulk_create(admin, "deal", [{"title": "A"}] * 1001)
    assert too_many.value.errors[0].pointer == ""
    assert counts(world) == before

    created = world.records.bulk_create(admin, "deal", [{"title": f"T{i}"} for i in range(3)])
    assert [r["stage"] for r in created] == ["new"] * 3
    with pytest.raises(StaleRecord) as stale:
        world.records.bulk_update(admin, "deal", [
            {"id": created[0]["id"], "version": 1, "changes": {"title": "ok"}},
            {"id": created[1]["id"], "version": 7, "changes": {"title": "stale"}},
        ])
    assert [e.pointer for e in stale.value.errors] == ["/1/version"]
    with pytest.raises(ValidationFailed) as invalid:
        world.records.bulk_update(admin, "deal", [
            {"id": created[2]["id"], "changes": {"amount": "not a number"}}])
    assert [e.pointer for e in invalid.value.errors] == ["/0/changes/amount"]
    assert all(world.records.get(admin, "deal", r["id"])["version"] == 1 for r in created)

    updated = world.records.bulk_update(admin, "deal", [
        {"id": r["id"], "version": 1, "changes": {"amount": str(i)}}
        for i, r in enumerate(created)])
    assert [(r["amount"], r["version"]) for r in updated] == [
        ("0.00", 2), ("1.00", 2), ("2.00", 2)]


def test_bulk_create_by_an_own_scope_rep_keeps_field_security(world: World) -> None:
    rep = world.subject("rep1")
    with pytest.raises(Forbidden) as refused:
        world.records.bulk_create(rep, "deal", [{"title": "A"}, {"title": "B", "margin": "1"},
                                                {"title": "C", "owner": "rep2"}])
    assert {e.pointer for e in refused.value.errors} == {"/1/margin", "/2/owner"}
    created = world.records.bulk_create(rep, "deal", [{"title": "A"}, {"title": "B"}])
    assert [r["owner"] for r in created] == ["rep1", "rep1"]
    assert all("margin" not in r for r in created)


def test_bulk_update_with_refusals_writes_the_allowed_items_and_keeps_the_others(
        world: World) -> None:
    """A list's mass update: each item in its own savepoint; refused ones stay unchanged."""
    east = world.records.create(world.subject("rep1"), "deal", {"title": "East"})
    west = world.records.create(world.subject("rep3"), "deal", {"title": "West"})
    other = world.records.create(world.subject("rep2"), "deal", {"title": "Other"})
    lead = world.subject("lead")
    before = counts(world)
    refusals: dict[int, Any] = {}

    updated = world.records.bulk_update(lead, "deal", [
        {"id": east["id"], "changes": {"amount": "5"}},
        {"id": west["id"], "changes": {"amount": "5"}},  # outside the lead's team
        {"id": other["id"], "version": 9, "changes": {"amount": "5"}},  # stale
    ], refusals=refusals)

    assert [r["id"] for r in updated] == [east["id"]]
    assert {index: type(error).__name__ for index, error in refusals.items()} == {
        1: "NotFound", 2: "StaleRecord"}
    admin = world.admin
    assert world.records.get(admin, "deal", east["id"])["amount"] == "5.00"
    assert world.records.get(admin, "deal", west["id"])["version"] == 1
    assert world.records.get(admin, "deal", other["id"])["version"] == 1
    deals, audit_rows, outbox_events = counts(world)
    assert deals == before[0] and outbox_events == before[2] + 1
    assert audit_rows > before[1]
    assert len(events(world, west["id"])) == 1  # its create only
