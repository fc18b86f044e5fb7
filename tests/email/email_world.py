"""The shipped packs (with `email`), a CRM mailbox on a private dovecot, a local SMTP server
and users, for the email tests: one world per module (building it is the expensive part)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest

from database_harness import postgres_schema, schema_url
from imap_harness import PASSWORD as IMAP_PASSWORD
from imap_harness import ImapServer, imap_server
from metacrm.api import RUNTIME_KEY
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services
from metacrm.email.inbound_signature import HEADER, signature
from metacrm.email.intake import Received
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine
from smtp_harness import Inbox, smtp_server
from web_harness import PASSWORD, Web, bearer, open_web

METADATA = Path(__file__).resolve().parents[2] / "metadata"
CRM = "crm@ourco.example"
INBOUND_SECRET = "inbound-test-secret"


def apply_shipped_packs(database_url: str) -> None:
    documents, errors = read_documents([METADATA])
    assert errors == []
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, default_registry()).apply(documents, author="test")
    finally:
        engine.dispose()


def mail(sender: str, to: str, subject: str, text: str, *, cc: str | None = None,
         reply_to: EmailMessage | None = None, message_id: str | None = None,
         attachment: tuple[str, bytes] | None = None) -> bytes:
    """A raw message; `reply_to`: the message it answers (In-Reply-To, References)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    if reply_to is not None:
        message["In-Reply-To"] = reply_to["Message-ID"]
        message["References"] = " ".join(filter(None, (reply_to.get("References"),
                                                       reply_to["Message-ID"])))
    message.set_content(text)
    if attachment is not None:
        message.add_attachment(attachment[1], maintype="application", subtype="pdf",
                               filename=attachment[0])
    return message.as_bytes()


class World:
    def __init__(self, web: Web, imap: ImapServer, smtp: Inbox) -> None:
        self.web = web
        self.imap = imap
        self.smtp = smtp
        with web.app.app_context():
            state = identity_state()
            model = state.metadata.live().model
            self.user_ids = {
                username: str(create_user(state.appbuilder, model, username=username,
                                          role=role_name, password=PASSWORD,
                                          email=f"{username}@ourco.example").id)
                for username, role_name in (("root", "admin"), ("rita", "sales_rep"),
                                            ("sam", "sales_rep"), ("kim", "knowledge_reader"))}
        self.root = bearer(web.login("root", PASSWORD))
        self.rita = bearer(web.login("rita", PASSWORD))
        self.sam = bearer(web.login("sam", PASSWORD))
        self.kim = bearer(web.login("kim", PASSWORD))
        self.mailbox = self.call("PUT", "/mailboxes/sales", self.root, 200, {
            "address": CRM, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
            "imap_url": imap.url("crm"), "imap_password": IMAP_PASSWORD,
            "inbound_secret": INBOUND_SECRET, "create_leads": True, "lead_source": "other"})
        self.acme = self.create("company", name="Acme")
        self.pat = self.create("person", first_name="Pat", last_name="Lee",
                               email="pat@acme.example", company=self.acme["id"])
        self.deal = self.create("deal", title="Acme rollout", company=self.acme["id"],
                                contact=self.pat["id"])

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    def create(self, entity: str, **values: Any) -> dict[str, Any]:
        admin = automation_subject(self.services.records.runtime().model, "test_setup")
        return self.services.records.create(admin, entity, values)

    def list(self, entity: str, field: str, value: Any) -> list[dict[str, Any]]:
        admin = automation_subject(self.services.records.runtime().model, "test_setup")
        return self.services.records.list(admin, entity, criteria={
            "field": field, "op": "eq", "value": value}, limit=100).records

    def call(self, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None) -> Any:
        response = self.web.client.open(f"/api/v1{path}", method=method, json=body,
                                        headers=headers)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def poll(self) -> list[Received]:
        return self.services.email.poller.poll(self.services.email.mailboxes.get("sales"))

    def push(self, raw: bytes, *, secret: str | None = INBOUND_SECRET,
             mailbox: str = "sales") -> Any:
        headers = {"Content-Type": "message/rfc822"}
        if secret is not None:
            headers[HEADER] = signature(secret, raw)
        return self.web.client.post(f"/api/v1/channels/email/inbound?mailbox={mailbox}",
                                    data=raw, headers=headers)

    def timeline(self, entity: str, record_id: str, headers: dict[str, str] | None = None
                 ) -> list[dict[str, Any]]:
        page = self.call("GET", f"/records/{entity}/{record_id}/timeline?kind=email_message",
                         headers or self.root, 200)
        return list(page["data"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import os

    root: Path = tmp_path_factory.mktemp("email")
    with ExitStack() as stack:
        imap = stack.enter_context(imap_server(root / "dovecot", ["crm"]))
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'e.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        apply_shipped_packs(url)
        smtp = stack.enter_context(smtp_server())
        web = stack.enter_context(open_web(url, root / "app", roles=(),
                                           RATELIMIT_ENABLED=False))
        yield World(web, imap, smtp)


def now() -> datetime:
    return datetime.now(UTC)
