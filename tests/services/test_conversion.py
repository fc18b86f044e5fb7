"""Converting a lead into a company, a person and a deal: one step, all or nothing.

The world is a small CRM (lead -> company, person, deal) on the real records and
transitions services; every assertion reads the database back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import LABEL, World, entity, field, role

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Conflict, Forbidden, NotFound, StaleRecord, ValidationFailed
from metacrm.services.conversion.service import ConversionService
from metacrm.services.transitions.service import TransitionService
from metacrm.storage import audit, outbox


def state(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": LABEL, **extra}


EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}

DOCUMENTS: list[dict[str, Any]] = [
    entity("company",
           field("name", "text", required=True, indexed=True),
           field("website", "url")),
    entity("person",
           field("first_name", "text"),
           field("last_name", "text", required=True),
           field("email", "email", unique=True),
           field("company", "reference", entity="company")),
    entity("deal",
           field("title", "text", required=True),
           field("company", "reference", entity="company", required=True),
           field("contact", "reference", entity="person"),
           field("kind", "text")),
    entity("lead",
           field("first_name", "text"),
           field("last_name", "text", required=True),
           field("company_name", "text"),
           field("email", "email"),
           field("website", "url"),
           field("status", "state", pipeline="lead_flow"),
           field("converted_person", "reference", entity="person", read_only=True,
                 on_delete="set_null")),
    {"kind": "pipeline", "name": "lead_flow", "version": 1, "label": LABEL, "entity": "lead",
     "states": [state("new"), state("lost", category="lost"),
                state("converted", category="won", locked=True)],
     "transitions": [
         {"name": "convert", "label": LABEL, "from": ["new"], "to": "converted",
          "required_fields": ["company_name"],
          "condition": {"field": "first_name", "op": "is_null", "value": False}},
         {"name": "lose", "label": LABEL, "from": ["new"], "to": "lost"}]},
    {"kind": "conversion", "name": "lead_conversion", "version": 1, "label": LABEL,
     "source": "lead", "transition": "convert",
     "source_links": {"converted_person": "person"},
     "targets": [
         {"name": "company", "entity": "company", "optional": True,
          "match": [["website"], ["name"]],
          "fields": {"name": "company_name", "website": "website"}},
         {"name": "person", "entity": "person", "match": [["email"]],
          "fields": {"first_name": "first_name", "last_name": "last_name", "email": "email"},
          "links": {"company": "company"}},
         {"name": "deal", "entity": "deal", "optional": True,
          "fields": {"title": "company_name"}, "constants": {"kind": "new business"},
          "links": {"company": "company", "contact": "person"}},
     ]},
    role("seller", entities={name: EVERYTHING for name in ("lead", "company", "person", "deal")},
         transitions={"lead_flow": ["convert"]}),
    role("no_deals", entities={
        **{name: EVERYTHING for name in ("lead", "company", "person")},
        "deal": {"read": "all"}}, transitions={"lead_flow": "*"}),
    role("no_grant", entities={name: EVERYTHING
                               for name in ("lead", "company", "person", "deal")}),
    role("viewer", entities={"lead": {"read": "all"}}),
    role("own_people", entities={
        **{name: EVERYTHING for name in ("lead", "company", "deal")},
        "person": {"read": "own", "create": "all", "update": "own"}},
        transitions={"lead_flow": "*"}),
    role("own_companies", entities={
        **{name: EVERYTHING for name in ("lead", "person", "deal")},
        "company": {"read": "own", "create": "all", "update": "own"}},
        transitions={"lead_flow": "*"}),
    role("admin", admin=True),
]

ENTITIES = ("company", "person", "deal", "lead")


class ConversionWorld:
    def __init__(self, engine: sa.Engine) -> None:
        self.world = World(engine, DOCUMENTS)
        self.engine = engine
        self.records = self.world.records
        self.transitions = TransitionService(self.records)
        self.service = ConversionService(self.records, self.transitions)
        self.seller = self.as_("seller")

    def as_(self, role_name: str, user: str = "rep1") -> AccessSubject:
        return self.world.subject(user, (role_name,))

    def lead(self, **values: Any) -> dict[str, Any]:
        body = {"first_name": "Ann", "last_name": "Lee", "company_name": "Acme Ltd",
                "email": "ann@acme.example", "website": "https://acme.example", **values}
        return self.records.create(self.seller, "lead", body)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {name: conn.execute(sa.text(f"SELECT count(*) FROM crm_{name}")).scalar_one()
                    for name in ENTITIES}

    def get(self, entity_name: str, record_id: str) -> dict[str, Any]:
        return self.records.get(self.as_("admin", "admin"), entity_name, record_id)


@pytest.fixture
def crm(engine: sa.Engine) -> Iterator[ConversionWorld]:
    yield ConversionWorld(engine)


def test_a_lead_becomes_a_company_a_person_and_a_deal_in_one_step(
    crm: ConversionWorld,
) -> None:
    lead = crm.lead()

    result = crm.service.convert(crm.seller, "lead", lead["id"])

    targets = result["targets"]
    assert {name: t["action"] for name, t in targets.items()} == {
        "company": "created", "person": "created", "deal": "created"}
    company, person, deal = (targets[n]["record"] for n in ("company", "person", "deal"))
    assert (company["name"], company["website"]) == ("Acme Ltd", "https://acme.example")
    assert crm.get("person", person["id"])["company"] == company["id"]
    stored_deal = crm.get("deal", deal["id"])
    assert (stored_deal["title"], stored_deal["kind"]) == ("Acme Ltd", "new business")
    assert (stored_deal["company"], stored_deal["contact"]) == (company["id"], person["id"])
    assert person["owner"] == deal["owner"] == "rep1"
    # the lead is closed by the transition and remembers the person it became
    assert result["record"]["status"] == "converted"
    assert result["record"]["converted_person"] == person["id"]
    assert crm.get("lead", lead["id"])["status"] == "converted"
    assert crm.counts() == {"company": 1, "person": 1, "deal": 1, "lead": 1}


def test_the_conversion_is_audited_and_published_like_any_change(crm: ConversionWorld) -> None:
    lead = crm.lead()

    result = crm.service.convert(crm.seller, "lead", lead["id"])

    with crm.engine.connect() as conn:
        lead_events = [e.type for e in outbox.events_for(conn, "lead", lead["id"])]
        person_events = [e.type for e in outbox.events_for(
            conn, "person", result["targets"]["person"]["record"]["id"])]
        actions = {e.action for e in audit.entries_for(conn, "lead", lead["id"])}
    assert lead_events == ["record.created", "record.updated", "record.transitioned"]
    assert person_events == ["record.created"]
    assert {"created", "updated", "transitioned"} <= actions


def test_an_existing_person_and_company_are_matched_not_duplicated(
    crm: ConversionWorld,
) -> None:
    admin = crm.as_("admin", "admin")
    company = crm.records.create(admin, "company", {"name": "ACME LTD"})
    person = crm.records.create(admin, "person", {"last_name": "Lee-Smith",
                                                  "email": "Ann@ACME.example"})
    lead = crm.lead(email="ann@acme.example", website=None)

    result = crm.service.convert(crm.seller, "lead", lead["id"])

    targets = result["targets"]
    assert (targets["company"]["action"], targets["company"]["record"]["id"]) == (
        "matched", company["id"])
    assert (targets["person"]["action"], targets["person"]["record"]["id"]) == (
        "matched", person["id"])
    # matched records are reused as they are; the new deal links to them
    assert crm.get("person", person["id"])["last_name"] == "Lee-Smith"
    deal = crm.get("deal", targets["deal"]["record"]["id"])
    assert (deal["company"], deal["contact"]) == (company["id"], person["id"])
    assert crm.counts() == {"company": 1, "person": 1, "deal": 1, "lead": 1}


def test_the_first_match_list_that_finds_a_record_wins(crm: ConversionWorld) -> None:
    admin = crm.as_("admin", "admin")
    by_name = crm.records.create(admin, "company", {"name": "Acme Ltd"})
    by_site = crm.records.create(admin, "company", {"name": "Acme Holding",
                                                    "website": "https://ACME.example"})
    lead = crm.lead()

    result = crm.service.convert(crm.seller, "lead", lead["id"])

    assert result["targets"]["company"]["record"]["id"] == by_site["id"] != by_name["id"]


def test_text_matches_ignore_case_beyond_ascii(crm: ConversionWorld) -> None:
    admin = crm.as_("admin", "admin")
    company = crm.records.create(admin, "company", {"name": "ÖKO Straße GmbH"})
    lead = crm.lead(company_name="öko straße gmbh", website=None)

    result = crm.service.convert(crm.seller, "lead", lead["id"])

    assert result["targets"]["company"]["record"]["id"] == company["id"]


def test_records_the_caller_may_not_read_are_not_matched(crm: ConversionWorld) -> None:
    # a role reading only its own companies neither finds nor learns of another's
    crm.records.create(crm.as_("admin", "admin"), "company", {"name": "Acme Ltd"})
    lead = crm.lead(website=None)

    result = crm.service.convert(crm.as_("own_companies"), "lead", lead["id"])

    assert result["targets"]["company"]["action"] == "created"
    assert crm.counts()["company"] == 2


def test_an_optional_target_may_be_skipped_and_an_existing_record_used(
    crm: ConversionWorld,
) -> None:
    company = crm.records.create(crm.seller, "company", {"name": "Chosen Inc"})
    lead = crm.lead()

    result = crm.service.convert(crm.seller, "lead", lead["id"], {
        "targets": {"company": {"use": company["id"]}, "deal": {"skip": True},
                    "person": {"values": {"first_name": "Anna"}}}})

    targets = result["targets"]
    assert targets["company"] == {"action": "used", "entity": "company",
                                  "record": crm.get("company", company["id"])}
    assert targets["deal"] == {"action": "skipped", "entity": "deal", "record": None}
    person = crm.get("person", targets["person"]["record"]["id"])
    assert (person["first_name"], person["company"]) == ("Anna", company["id"])
    assert crm.counts() == {"company": 1, "person": 1, "deal": 0, "lead": 1}


def test_a_required_target_cannot_be_skipped(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"],
                            {"targets": {"person": {"skip": True}, "nobody": {}}})

    assert {e.pointer for e in caught.value.errors} == {"/targets/person/skip",
                                                        "/targets/nobody"}
    assert crm.counts()["person"] == 0


def test_a_failing_last_target_leaves_nothing_behind(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"],
                            {"targets": {"deal": {"values": {"title": None}}}})

    assert [e.pointer for e in caught.value.errors] == ["/targets/deal/title"]
    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}
    assert crm.get("lead", lead["id"]) == lead


def test_a_link_to_a_skipped_target_fails_where_it_is_required(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"],
                            {"targets": {"company": {"skip": True}}})

    assert [e.pointer for e in caught.value.errors] == ["/targets/deal/company"]
    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}


def test_a_failing_transition_guard_undoes_every_target(crm: ConversionWorld) -> None:
    lead = crm.lead(first_name=None)

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"])

    assert [e.pointer for e in caught.value.errors] == ["/record/condition"]
    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}
    assert crm.get("lead", lead["id"]) == lead


def test_a_missing_required_field_of_the_transition_points_at_the_record(
    crm: ConversionWorld,
) -> None:
    lead = crm.lead(company_name=None)

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"],
                            {"targets": {"company": {"skip": True}, "deal": {"skip": True}}})

    assert [e.pointer for e in caught.value.errors] == ["/record/company_name"]
    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}


def test_a_unique_value_held_by_an_unreadable_record_is_a_conflict(
    crm: ConversionWorld,
) -> None:
    crm.records.create(crm.as_("admin", "admin"), "person",
                       {"last_name": "Lee", "email": "ann@acme.example"})
    lead = crm.lead()

    with pytest.raises(Conflict) as caught:
        crm.service.convert(crm.as_("own_people"), "lead", lead["id"])

    assert [e.pointer for e in caught.value.errors] == ["/targets/person/email"]
    assert crm.counts() == {"company": 0, "person": 1, "deal": 0, "lead": 1}


def test_converting_twice_is_a_conflict(crm: ConversionWorld) -> None:
    lead = crm.lead()
    crm.service.convert(crm.seller, "lead", lead["id"])

    with pytest.raises(Conflict) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"])

    assert [e.pointer for e in caught.value.errors] == ["/record/status"]
    assert crm.counts() == {"company": 1, "person": 1, "deal": 1, "lead": 1}


def test_two_simultaneous_conversions_convert_once(crm: ConversionWorld) -> None:
    lead = crm.lead()
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(crm.service.convert(crm.seller, "lead", lead["id"]))
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "dict"]
    assert crm.counts() == {"company": 1, "person": 1, "deal": 1, "lead": 1}


def test_a_lead_in_a_state_the_transition_does_not_leave_is_a_conflict(
    crm: ConversionWorld,
) -> None:
    lead = crm.lead()
    crm.transitions.transition(crm.as_("admin", "admin"), "lead", lead["id"], "lose")

    with pytest.raises(Conflict):
        crm.service.convert(crm.seller, "lead", lead["id"])

    assert crm.counts()["person"] == 0


def test_without_create_rights_on_deals_nothing_is_created(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(Forbidden) as caught:
        crm.service.convert(crm.as_("no_deals"), "lead", lead["id"])

    assert [e.pointer for e in caught.value.errors] == ["/targets/deal"]
    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}


def test_without_the_transition_grant_nothing_is_created(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(Forbidden):
        crm.service.convert(crm.as_("no_grant"), "lead", lead["id"])

    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}


def test_the_caller_needs_update_rights_on_the_lead(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(Forbidden):
        crm.service.convert(crm.as_("viewer"), "lead", lead["id"])
    with pytest.raises(NotFound):
        crm.service.convert(crm.seller, "lead", "no-such-lead")

    assert crm.counts() == {"company": 0, "person": 0, "deal": 0, "lead": 1}


def test_a_stale_version_is_refused(crm: ConversionWorld) -> None:
    lead = crm.lead()
    crm.records.update(crm.seller, "lead", lead["id"], {"first_name": "Annie"})

    with pytest.raises(StaleRecord):
        crm.service.convert(crm.seller, "lead", lead["id"], expected_version=1)

    assert crm.counts()["person"] == 0


def test_a_used_record_must_be_readable(crm: ConversionWorld) -> None:
    lead = crm.lead()

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"],
                            {"targets": {"company": {"use": "missing-id"}}})

    assert [e.pointer for e in caught.value.errors] == ["/targets/company/use"]


@pytest.mark.parametrize(("body", "pointers"), [
    ([], {""}),
    ({"conversion": "other"}, {"/conversion"}),
    ({"conversion": 3, "extra": 1}, {"/conversion", "/extra"}),
    ({"targets": []}, {"/targets"}),
    ({"targets": {"deal": {"skip": True, "use": "x"}}}, {"/targets/deal/skip"}),
    ({"targets": {"deal": {"use": "x", "values": {}}}}, {"/targets/deal/values"}),
    ({"targets": {"deal": {"skip": "yes", "colour": 1}}},
     {"/targets/deal/skip", "/targets/deal/colour"}),
    ({"targets": {"a/b": {}}}, {"/targets/a~1b"}),
])
def test_malformed_requests_point_at_the_problem(
    crm: ConversionWorld, body: Any, pointers: set[str]
) -> None:
    lead = crm.lead()

    with pytest.raises(ValidationFailed) as caught:
        crm.service.convert(crm.seller, "lead", lead["id"], body)

    assert {e.pointer for e in caught.value.errors} == pointers


def test_an_entity_without_a_conversion_cannot_be_converted(crm: ConversionWorld) -> None:
    company = crm.records.create(crm.seller, "company", {"name": "Acme"})

    with pytest.raises(NotFound):
        crm.service.convert(crm.seller, "company", company["id"])

    assert [c.name for c in crm.service.conversions("lead")] == ["lead_conversion"]
