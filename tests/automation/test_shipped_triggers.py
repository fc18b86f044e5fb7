"""The shipped sales triggers end to end: the real packs, the web app's services (automation
installed, inline job queue), a real SMTP server on loopback. A new lead gets its owner a
call task; a lead rated hot and a deal won mail the owner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from metacrm.access.subject import AccessSubject
from metacrm.api import RUNTIME_KEY
from metacrm.automation.business_days import add_business_days
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services
from metacrm.fieldtypes import default_registry
from metacrm.identity.actor import Actor
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.kernel.errors import MetacrmError
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.services.records.related import related_lists
from metacrm.storage.engine import create_database_engine
from smtp_harness import Inbox, smtp_server
from web_harness import PASSWORD, Web, open_web

METADATA = Path(__file__).resolve().parents[2] / "metadata"


def apply_shipped_packs(database_url: str) -> None:
    documents, errors = read_documents([METADATA])
    assert errors == []
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, default_registry()).apply(documents, author="test")
    finally:
        engine.dispose()


@dataclass
class Crm:
    web: Web
    inbox: Inbox

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    @property
    def admin(self) -> AccessSubject:
        return automation_subject(self.services.records.runtime().model, "test_setup")

    def rep(self, username: str, email: str) -> str:
        return self.user(username, "sales_rep", email)

    def user(self, username: str, role: str, email: str | None = None) -> str:
        with self.web.app.app_context():
            state = identity_state()
            user = create_user(state.appbuilder, state.metadata.live().model,
                               username=username, role=role, password=PASSWORD,
                               email=email)
        return str(user.id)

    def create(self, entity: str, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.admin, entity, values)


@pytest.fixture
def crm(isolated_database_url: str, tmp_path: Path) -> Iterator[Crm]:
    apply_shipped_packs(isolated_database_url)
    with smtp_server() as inbox, open_web(
        isolated_database_url, tmp_path, roles=(),
        settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                          "mail_from": "crm@example.com"},
    ) as web:
        yield Crm(web, inbox)


def business_days_from_today(days: int) -> str:
    return add_business_days(datetime.now(UTC).date(), days).isoformat()


def test_a_new_lead_gets_its_owner_a_call_task(crm: Crm) -> None:
    ann = crm.rep("ann", "ann@example.com")
    due_before = business_days_from_today(2)

    lead = crm.create("lead", first_name="Bob", last_name="Stone", owner=ann)

    tasks = crm.services.records.list(crm.admin, "task").records
    assert [(t["subject"], t["lead"], t["regarding"], t["owner"], t["status"])
            for t in tasks] == [
        ("Call the new lead", lead["id"], {"entity": "lead", "id": lead["id"]}, ann, "open")]
    assert tasks[0]["due_date"] in {due_before, business_days_from_today(2)}
    assert tasks[0]["created_by"] == "trigger:lead_follow_up_task"


def test_a_hot_lead_mails_its_owner(crm: Crm) -> None:
    ann = crm.rep("ann", "ann@example.com")
    lead = crm.create("lead", first_name="Bob", last_name="Stone", company_name="Acme",
                      email="bob@acme.example", owner=ann)
    assert crm.inbox.messages == []

    crm.services.records.update(crm.admin, "lead", lead["id"], {"rating": "hot"})

    (mail,) = crm.inbox.messages
    assert mail.recipients == ["ann@example.com"]
    assert mail.message["Subject"] == "Hot lead: Bob Stone (Acme)"
    assert "Email: bob@acme.example" in mail.part("text/plain")


def test_a_won_deal_mails_its_owner(crm: Crm) -> None:
    ann = crm.rep("ann", "ann@example.com")
    company = crm.create("company", name="Acme")
    deal = crm.create("deal", title="Big deal", company=company["id"], owner=ann)
    transitions = crm.services.transitions

    transitions.transition(crm.admin, "deal", deal["id"], "propose", {
        "amount": {"amount": "5000", "currency": "USD"}, "close_date": "2030-01-31"})
    assert crm.inbox.messages == []
    transitions.transition(crm.admin, "deal", deal["id"], "win")

    (mail,) = crm.inbox.messages
    assert mail.recipients == ["ann@example.com"]
    assert mail.message["Subject"] == "Deal won: Big deal"
    assert "was won for 5000.00 USD" in mail.part("text/plain")


# --- the permission matrix of the follow-up task ----------------------------------------------

LEAD_NAME = ("Zebulon", "Quixote-Vane")
"""A lead's name no other value contains, to look for in every answer a viewer gets."""
LEARNS_THE_NAME = [  # viewer (role, same team as the lead's owner?) -> may learn the name
    ("owner", "sales_rep", True, True),
    ("teammate", "sales_rep", True, False),
    ("manager", "sales_manager", True, True),
    ("outsider", "sales_rep", False, False),
]


def subject_of(crm: Crm, user_id: str, username: str, role: str) -> AccessSubject:
    return crm.services.records.subject_for(Actor(user_id, username, (role,), False))


def reads_of_the_task(crm: Crm, viewer: AccessSubject, lead_id: str) -> list[Any]:
    """Every answer the viewer gets about the lead's follow-up task and the lead itself:
    list, search, get with the lead included, history, related lists; refusals included."""
    records = crm.services.records
    answers: list[Any] = []

    def read(call: Any) -> None:
        try:
            answers.append(call())
        except MetacrmError as refused:
            answers.append(str(refused))

    read(lambda: records.list(viewer, "task", include=["lead"]))
    read(lambda: records.list(viewer, "task", q=LEAD_NAME[1]))
    tasks = records.list(crm.admin, "task",
                         criteria={"field": "lead", "op": "eq", "value": lead_id}).records
    for task in tasks:
        read(lambda task=task: records.get(viewer, "task", task["id"], include=["lead"]))
        read(lambda task=task: records.history(viewer, "task", task["id"]))
    read(lambda: records.get(viewer, "lead", lead_id))
    read(lambda: related_lists(records, viewer, "lead", lead_id))
    return answers


@pytest.mark.parametrize(("viewer", "role", "same_team", "learns"), LEARNS_THE_NAME)
def test_the_follow_up_task_does_not_tell_the_team_the_lead_s_name(
        crm: Crm, viewer: str, role: str, same_team: bool, learns: bool) -> None:
    ann = crm.rep("ann", "ann@example.com")
    user_id = ann if viewer == "owner" else crm.user(viewer, role)
    with crm.services.engine.begin() as conn:
        crm.services.teams.create_team(conn, "north")
        crm.services.teams.create_team(conn, "south")
        crm.services.teams.add_member(conn, "north", ann)
        if viewer != "owner":
            crm.services.teams.add_member(conn, "north" if same_team else "south", user_id)
    crm.services.teams.forget_cached_teams()
    lead = crm.create("lead", first_name=LEAD_NAME[0], last_name=LEAD_NAME[1], owner=ann)
    subject = subject_of(crm, user_id, viewer, role)

    answers = reads_of_the_task(crm, subject, lead["id"])

    text = repr(answers)
    assert (LEAD_NAME[1] in text) is learns
    assert (LEAD_NAME[0] in text) is learns
    if viewer == "teammate":  # the task itself is the team's to see and do
        (task,) = crm.services.records.list(subject, "task").records
        assert (task["subject"], task["lead"]) == ("Call the new lead", lead["id"])
