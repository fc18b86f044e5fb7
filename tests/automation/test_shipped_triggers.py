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
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata_service import MetadataService
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
        with self.web.app.app_context():
            state = identity_state()
            user = create_user(state.appbuilder, state.metadata.live().model,
                               username=username, role="sales_rep", password=PASSWORD,
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
        ("Call Bob Stone", lead["id"], {"entity": "lead", "id": lead["id"]}, ann, "open")]
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
    transitions = crm.services.features["transitions"]

    transitions.transition(crm.admin, "deal", deal["id"], "propose", {
        "amount": {"amount": "5000", "currency": "USD"}, "close_date": "2030-01-31"})
    assert crm.inbox.messages == []
    transitions.transition(crm.admin, "deal", deal["id"], "win")

    (mail,) = crm.inbox.messages
    assert mail.recipients == ["ann@example.com"]
    assert mail.message["Subject"] == "Deal won: Big deal"
    assert "was won for 5000.00 USD" in mail.part("text/plain")
