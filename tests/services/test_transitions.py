"""Pipeline transitions at the service: guards, role rules, locked states, the audit trail and
the outbox, optimistic locking, composing a transition into a larger transaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import LABEL, World, entity, field, role

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    Conflict,
    Forbidden,
    MetadataInvalid,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.services.transitions.service import TransitionService
from metacrm.storage import audit, outbox

REASONS = [{"value": "price", "label": LABEL}, {"value": "other", "label": LABEL}]
DEAL = entity(
    "deal",
    field("title", "text", required=True),
    field("amount", "decimal"),
    field("close_date", "date"),
    field("loss_reason", "picklist", choices=REASONS),
    field("discount", "percent"),
    field("stage", "state", pipeline="deal_flow"),
)


def state(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": {"en": name.title(), "ru": name}, **extra}


def move(name: str, origin: Any, to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": {"en": name.title(), "ru": name}, "from": origin,
            "to": to, **extra}


PIPELINE = {
    "kind": "pipeline", "name": "deal_flow", "version": 1, "label": LABEL, "entity": "deal",
    "initial_state": "qualification",
    "states": [state("qualification"), state("proposal"),
               state("won", category="won", locked=True, unlocked_for=["manager"]),
               state("lost", category="lost", locked=True)],
    "transitions": [
        move("propose", ["qualification"], "proposal", required_fields=["amount", "close_date"]),
        move("win", ["proposal"], "won", required_fields=["amount"],
             condition={"field": "amount", "op": "gt", "value": "0"}),
        move("lose", ["qualification", "proposal"], "lost", required_fields=["loss_reason"]),
        move("abandon", "*", "lost"),
        move("reopen", ["won", "lost"], "qualification", roles=["manager"]),
    ],
}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own"}
EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}
DOCUMENTS = [
    DEAL, PIPELINE,
    # reps may not reopen: the grant names it, but the transition is for managers only
    role("rep", entities={"deal": {**OWN, "fields": {"discount": "read_only"}}},
         transitions={"deal_flow": ["propose", "win", "lose", "abandon", "reopen"]}),
    role("manager", entities={"deal": EVERYTHING}, transitions={"deal_flow": "*"}),
    role("viewer", entities={"deal": {"read": "all"}}, transitions={"deal_flow": "*"}),
    role("clerk", entities={"deal": EVERYTHING}),
    role("admin", admin=True),
]


class Sales:
    def __init__(self, engine: sa.Engine) -> None:
        self.world = World(engine, DOCUMENTS)
        self.records = self.world.records
        self.transitions = TransitionService(self.records)
        self.rep = self.world.subject("rep1", ("rep",))
        self.other_rep = self.world.subject("rep3", ("rep",))
        self.manager = self.world.subject("lead", ("manager",))
        self.viewer = self.world.subject("auditor", ("viewer",))
        self.clerk = self.world.subject("nobody", ("clerk",))
        self.admin = self.world.admin

    def deal(self, subject: AccessSubject | None = None, **values: Any) -> dict[str, Any]:
        return self.records.create(subject or self.rep, "deal", {"title": "Deal", **values})

    def won_deal(self) -> dict[str, Any]:
        deal = self.deal(amount="100", close_date="2030-01-31")
        self.transitions.transition(self.rep, "deal", deal["id"], "propose")
        return self.transitions.transition(self.rep, "deal", deal["id"], "win")

    def stored(self, record_id: str) -> dict[str, Any]:
        return self.records.get(self.admin, "deal", record_id)

    def events(self, record_id: str) -> list[outbox.OutboxEvent]:
        with self.world.engine.connect() as conn:
            return outbox.events_for(conn, "deal", record_id)

    def trail(self, record_id: str) -> list[audit.AuditEntry]:
        with self.world.engine.connect() as conn:
            return audit.entries_for(conn, "deal", record_id)


@pytest.fixture
def sales(engine: sa.Engine) -> Iterator[Sales]:
    yield Sales(engine)


def pointers(error: Any) -> list[str]:
    return [detail.pointer for detail in error.value.errors]


def test_a_deal_moves_through_its_guards_to_won(sales: Sales) -> None:
    deal = sales.deal()
    with pytest.raises(ValidationFailed) as missing:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "propose")
    assert pointers(missing) == ["/values/amount", "/values/close_date"]
    assert "required by transition 'propose'" in missing.value.errors[0].message
    assert (sales.stored(deal["id"])["stage"], sales.stored(deal["id"])["version"]) == (
        "qualification", 1)  # the refused transition wrote nothing

    proposed = sales.transitions.transition(sales.rep, "deal", deal["id"], "propose",
                                            {"amount": "0", "close_date": "2030-01-31"})
    assert (proposed["stage"], proposed["amount"], proposed["version"]) == ("proposal", "0.00", 2)

    with pytest.raises(ValidationFailed) as unmet:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "win")
    assert pointers(unmet) == ["/condition"]
    assert "condition of transition 'win' is not met" in unmet.value.errors[0].message

    won = sales.transitions.transition(sales.rep, "deal", deal["id"], "win", {"amount": "250"},
                                       expected_version=2)
    assert (won["stage"], won["amount"], won["version"]) == ("won", "250.00", 3)

    transitioned = [e for e in sales.trail(deal["id"]) if e.action == "transitioned"]
    assert {(e.field, e.old, e.new) for e in transitioned} == {
        ("stage", "qualification", "proposal"), ("amount", None, "0.00"),
        ("close_date", None, "2030-01-31"), ("stage", "proposal", "won"),
        ("amount", "0.00", "250.00")}
    history = sales.records.history(sales.rep, "deal", deal["id"])
    assert {entry["action"] for entry in history} == {"created", "transitioned"}

    events = sales.events(deal["id"])
    assert [e.type for e in events] == ["record.created", "record.transitioned",
                                        "record.transitioned"]
    last = events[-1].payload
    assert last["transition"] == {"pipeline": "deal_flow", "name": "win", "from": "proposal",
                                  "to": "won"}
    assert sorted(last["changed"]) == ["amount", "stage"]
    assert last["previous"] == {"amount": "0.00", "stage": "proposal"}
    assert last["record"]["stage"] == "won" and last["actor"] == "rep1"
    assert {e.event_id for e in transitioned} == {e.id for e in events[1:]}


def test_plain_updates_carry_the_previous_values(sales: Sales) -> None:
    deal = sales.deal(amount="5")
    sales.records.update(sales.rep, "deal", deal["id"], {"amount": "7", "title": "Bigger"})
    updated = sales.events(deal["id"])[-1]
    assert updated.type == "record.updated"
    assert updated.payload["previous"] == {"amount": "5.00", "title": "Deal"}
    assert "transition" not in updated.payload


def test_transition_values_are_checked_like_a_patch(sales: Sales) -> None:
    deal = sales.deal()
    with pytest.raises(ValidationFailed) as state_field:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "lose", {"stage": "won"})
    assert pointers(state_field) == ["/values/stage"]
    with pytest.raises(ValidationFailed) as bad_value:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "lose",
                                     {"loss_reason": "boredom", "amount": "lots"})
    assert sorted(pointers(bad_value)) == ["/values/amount", "/values/loss_reason"]
    with pytest.raises(ValidationFailed) as not_an_object:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "lose", ["price"])  # type: ignore[arg-type]
    assert pointers(not_an_object) == ["/values"]
    with pytest.raises(Forbidden) as read_only:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "lose",
                                     {"loss_reason": "price", "discount": "5"})
    assert pointers(read_only) == ["/values/discount"]
    assert sales.stored(deal["id"])["version"] == 1
    lost = sales.transitions.transition(sales.rep, "deal", deal["id"], "lose",
                                        {"loss_reason": "price"})
    assert (lost["stage"], lost["loss_reason"]) == ("lost", "price")


def test_unknown_transitions_wrong_states_and_records_out_of_reach(sales: Sales) -> None:
    deal = sales.deal()
    with pytest.raises(NotFound) as unknown:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "teleport")
    assert "propose, win, lose, abandon, reopen" in unknown.value.errors[0].message
    with pytest.raises(Conflict) as wrong_state:
        sales.transitions.transition(sales.rep, "deal", deal["id"], "win", {"amount": "1"})
    assert pointers(wrong_state) == ["/stage"]
    assert "'qualification'" in wrong_state.value.message
    with pytest.raises(NotFound):  # another rep's deal: outside their read scope
        sales.transitions.transition(sales.other_rep, "deal", deal["id"], "abandon")
    with pytest.raises(Forbidden):  # readable, but outside the update scope
        sales.transitions.transition(sales.viewer, "deal", deal["id"], "abandon")
    with pytest.raises(NotFound):
        sales.transitions.transition(sales.rep, "deal", "no-such-id", "abandon")
    with pytest.raises(NotFound):
        sales.transitions.transition(sales.rep, "nothing", deal["id"], "abandon")
    abandoned = sales.transitions.transition(sales.rep, "deal", deal["id"], "abandon")
    assert abandoned["stage"] == "lost"
    with pytest.raises(Conflict):  # "*" is any state but the one it leads to
        sales.transitions.transition(sales.manager, "deal", deal["id"], "abandon")


def test_roles_decide_who_may_perform_each_transition(sales: Sales) -> None:
    deal = sales.deal(amount="10", close_date="2030-01-31")
    with pytest.raises(Forbidden) as no_grant:  # may update deals, has no transition grant
        sales.transitions.transition(sales.clerk, "deal", deal["id"], "propose")
    assert "propose" in no_grant.value.message
    assert no_grant.value.errors[0].message == (
        "only these roles may perform it: manager, rep, viewer, admin")
    sales.transitions.transition(sales.rep, "deal", deal["id"], "propose")
    sales.transitions.transition(sales.rep, "deal", deal["id"], "win")

    with pytest.raises(Forbidden) as rep_reopens:  # granted, but reopen is for managers
        sales.transitions.transition(sales.rep, "deal", deal["id"], "reopen")
    assert rep_reopens.value.errors[0].message == (
        "only these roles may perform it: manager, admin")
    reopened = sales.transitions.transition(sales.manager, "deal", deal["id"], "reopen")
    assert reopened["stage"] == "qualification"
    assert sales.transitions.transition(sales.admin, "deal", deal["id"], "propose")[
        "stage"] == "proposal"
    assert sales.transitions.transition(sales.admin, "deal", deal["id"], "win")["stage"] == "won"
    assert sales.transitions.transition(sales.admin, "deal", deal["id"], "reopen")[
        "stage"] == "qualification"


def names(listed: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in listed]


def test_available_lists_what_each_caller_may_do_next(sales: Sales) -> None:
    deal = sales.deal(amount="10")
    listed = sales.transitions.available(sales.rep, "deal", deal["id"])
    assert names(listed) == ["propose", "lose", "abandon"]
    propose = listed[0]
    assert propose == {
        "name": "propose", "label": {"en": "Propose", "ru": "propose"}, "pipeline": "deal_flow",
        "field": "stage", "from": ["qualification"], "to": "proposal",
        "to_label": {"en": "Proposal", "ru": "proposal"}, "allowed": False,
        "missing": ["close_date"], "condition_met": True, "conversion": None}
    assert (listed[1]["allowed"], listed[1]["missing"]) == (False, ["loss_reason"])
    assert (listed[2]["allowed"], listed[2]["from"]) == (True, "*")

    assert sales.transitions.available(sales.clerk, "deal", deal["id"]) == []
    # the viewer's roles grant every transition, but they may not update the deal
    viewed = sales.transitions.available(sales.viewer, "deal", deal["id"])
    assert names(viewed) == ["propose", "lose", "abandon"]
    assert not any(item["allowed"] for item in viewed)
    with pytest.raises(NotFound):
        sales.transitions.available(sales.other_rep, "deal", deal["id"])

    won = sales.won_deal()
    assert names(sales.transitions.available(sales.rep, "deal", won["id"])) == ["abandon"]
    for subject in (sales.manager, sales.admin):
        assert names(sales.transitions.available(subject, "deal", won["id"])) == [
            "abandon", "reopen"]


def test_a_locked_record_is_read_only_except_for_the_roles_it_unlocks_for(
    sales: Sales,
) -> None:
    won = sales.won_deal()
    with pytest.raises(Forbidden) as patch:
        sales.records.update(sales.rep, "deal", won["id"], {"title": "Changed"})
    assert pointers(patch) == ["/stage"]
    message = patch.value.errors[0].message
    assert "locked state 'won'" in message and "manager or an admin role" in message
    with pytest.raises(Forbidden) as bulk:
        sales.records.bulk_update(sales.rep, "deal",
                                  [{"id": won["id"], "changes": {"title": "Changed"}}])
    assert pointers(bulk) == ["/0/changes/stage"]
    with pytest.raises(Forbidden) as owner_change:
        sales.records.update(sales.rep, "deal", won["id"], {"owner": "rep2"})
    assert pointers(owner_change) == ["/stage"]
    with pytest.raises(Forbidden) as delete:
        sales.records.delete(sales.rep, "deal", won["id"])
    assert pointers(delete) == ["/stage"]
    assert sales.stored(won["id"])["version"] == won["version"]

    edited = sales.records.update(sales.manager, "deal", won["id"], {"title": "Fixed"})
    assert edited["title"] == "Fixed"
    sales.records.bulk_update(sales.admin, "deal",
                              [{"id": won["id"], "changes": {"title": "By admin"}}])

    reopened = sales.transitions.transition(sales.manager, "deal", won["id"], "reopen")
    assert reopened["stage"] == "qualification"
    assert sales.records.update(sales.rep, "deal", won["id"], {"title": "Mine again"})[
        "title"] == "Mine again"

    lost = sales.deal(loss_reason="price")
    sales.transitions.transition(sales.rep, "deal", lost["id"], "lose")
    with pytest.raises(Forbidden) as nobody:  # `lost` unlocks for no role: admins only
        sales.records.update(sales.manager, "deal", lost["id"], {"title": "X"})
    assert "only an admin role may" in nobody.value.errors[0].message
    sales.records.delete(sales.admin, "deal", lost["id"])


def test_changing_the_state_directly_names_the_transitions(sales: Sales) -> None:
    deal = sales.deal(amount="10", close_date="2030-01-31")
    sales.transitions.transition(sales.rep, "deal", deal["id"], "propose")
    with pytest.raises(ValidationFailed) as refused:
        sales.records.update(sales.rep, "deal", deal["id"], {"stage": "won"})
    assert pointers(refused) == ["/stage"]
    assert refused.value.errors[0].message == (
        "changes only through a transition of pipeline 'deal_flow'; from 'proposal': "
        "win (→ won), lose (→ lost), abandon (→ lost)")


def test_of_two_transitions_from_one_version_exactly_one_wins(sales: Sales) -> None:
    deal = sales.deal(loss_reason="price")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(name: str) -> None:
        barrier.wait()
        try:
            sales.transitions.transition(sales.rep, "deal", deal["id"], name,
                                         expected_version=1)
            outcomes[name] = "done"
        except StaleRecord as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("lose", "abandon")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(str(v) if v == "done" else "stale" for v in outcomes.values()) == [
        "done", "stale"]
    assert sales.stored(deal["id"])["version"] == 2
    assert [e.type for e in sales.events(deal["id"])].count("record.transitioned") == 1


def test_transition_in_is_part_of_the_callers_transaction(sales: Sales) -> None:
    with sales.records.transaction() as conn:
        created = sales.records.create_in(conn, sales.rep, "deal",
                                          {"title": "Both", "loss_reason": "price"})
        lost = sales.transitions.transition_in(conn, sales.rep, "deal", created["id"], "lose")
    assert sales.stored(created["id"])["stage"] == lost["stage"] == "lost"

    before = len(sales.records.list(sales.admin, "deal").records)
    with pytest.raises(ValidationFailed), sales.records.transaction() as conn:
        other = sales.records.create_in(conn, sales.rep, "deal", {"title": "Neither"})
        sales.transitions.transition_in(conn, sales.rep, "deal", other["id"], "lose")
    assert len(sales.records.list(sales.admin, "deal").records) == before


def test_transition_names_are_unique_per_entity(engine: sa.Engine) -> None:
    second = {**PIPELINE, "name": "deal_risk", "initial_state": "qualification",
              "transitions": [move("escalate", ["qualification"], "proposal"),
                              move("win", ["proposal"], "won")]}
    deal = {**DEAL, "fields": [*DEAL["fields"], field("risk", "state", pipeline="deal_risk")]}
    with pytest.raises(MetadataInvalid) as invalid:
        World(engine, [deal, PIPELINE, second, *DOCUMENTS[2:]])
    assert [(e.source, e.pointer) for e in invalid.value.errors] == [
        ("deal_risk.json", "/transitions/1/name")]
    assert "'win' is also used by pipeline 'deal_flow'" in invalid.value.errors[0].message
