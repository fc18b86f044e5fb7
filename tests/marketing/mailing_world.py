"""The world of the mailing tests: the shipped packs, a web app, a sender mailbox whose
SMTP server is a real one on loopback (tests/smtp_harness.py) and whose bounces arrive
in a private dovecot (tests/imap_harness.py), users `root` (admin) and `mia`
(marketing_manager), and an audience of persons."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from database_harness import postgres_schema, schema_url
from imap_harness import PASSWORD as IMAP_PASSWORD
from imap_harness import ImapServer, imap_server
from metacrm.access.subject import AccessSubject
from metacrm.api import RUNTIME_KEY
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine
from smtp_harness import Inbox, Received, smtp_server
from web_harness import PASSWORD, Web, bearer, open_web

METADATA = Path(__file__).resolve().parents[2] / "metadata"
SENDER = "news@ourco.example"
PUBLIC = "https://crm.ourco.example"
CLICK = re.compile(re.escape(PUBLIC) + r"/m/c/[A-Za-z0-9_.\-]+")


def apply_shipped_packs(database_url: str) -> None:
    documents, errors = read_documents([METADATA])
    assert errors == []
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, default_registry()).apply(documents, author="test")
    finally:
        engine.dispose()


class MailingWorld:
    def __init__(self, web: Web, imap: ImapServer, smtp: Inbox) -> None:
        self.web = web
        self.imap = imap
        self.smtp = smtp
        with web.app.app_context():
            state = identity_state()
            model = state.metadata.live().model
            for username, role_name in (("root", "admin"), ("mia", "marketing_manager")):
                create_user(state.appbuilder, model, username=username, role=role_name,
                            password=PASSWORD, email=f"{username}@ourco.example")
        self.root = bearer(web.login("root", PASSWORD))
        self.mia = bearer(web.login("mia", PASSWORD))
        self.call("PUT", "/mailboxes/news", self.root, 200, {
            "address": SENDER, "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
            "imap_url": imap.url("news"), "imap_password": IMAP_PASSWORD})

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    @property
    def admin(self) -> AccessSubject:
        return automation_subject(self.services.records.runtime().model, "test_setup")

    def call(self, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None) -> Any:
        response = self.web.client.open(f"/api/v1{path}", method=method, json=body,
                                        headers=headers)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def persons(self, tag: str, count: int) -> list[dict[str, Any]]:
        """`count` persons with job title `tag` and addresses `<tag>.<i>@example.org`,
        written in one statement (the records service per person is the slow part of
        the setup, not of what is tested)."""
        system = self.services.records.runtime().system
        rows = [{"first_name": f"P{i}", "last_name": tag.title(), "job_title": tag,
                 "email": f"{tag}.{i}@example.org"} for i in range(count)]
        with self.services.records.transaction() as conn:
            return [dict(r) for r in system.insert_many(conn, "person", rows, trusted=True)]

    def grant(self, people: list[dict[str, Any]]) -> None:
        """Granted marketing consent of these persons, written in one statement (as
        `ConsentLedger.opt_in` writes each)."""
        system = self.services.records.runtime().system
        now = self.services.clock().isoformat()
        rows = [{"email": p["email"], "purpose": "marketing", "status": "granted",
                 "source": "manual", "granted_at": now, "requested_at": now,
                 "person": p["id"]} for p in people]
        with self.services.records.transaction() as conn:
            system.insert_many(conn, "consent", rows, trusted=True)

    def segment(self, tag: str, name: str) -> str:
        return str(self.call("POST", "/records/segment", self.mia, 201, {
            "name": name, "entity": "person", "segment_type": "dynamic",
            "criteria": {"field": "job_title", "op": "eq", "value": tag}})["data"]["id"])

    def mailing(self, segment: str, **values: Any) -> dict[str, Any]:
        body = {"name": "December sale", "segment": segment, "mailbox": "news",
                "subject": "Hello {{ record.first_name }}",
                "body": "Dear {{ name }},\n\nOur sale: https://shop.example/sale\n",
                "track_clicks": True, "track_opens": True, **values}
        return dict(self.call("POST", "/records/mailing", self.mia, 201, body)["data"])

    def send(self, mailing_id: str) -> dict[str, Any]:
        """Send now and run the work until the mailing is done (the inline queue runs an
        attempt at once; later attempts wait for the sweeper, called here)."""
        self.call("POST", f"/records/mailing/{mailing_id}/send", self.mia, 200)
        dispatcher = self.services.dispatcher
        for _ in range(200):
            progress = self.call("GET", f"/records/mailing/{mailing_id}/progress",
                                 self.mia, 200)
            if progress["status"] != "sending":
                return dict(progress)
            dispatcher.sweep_once()
            dispatcher.kick()
        raise AssertionError(f"the mailing did not finish: {progress}")

    def received_by(self, messages: list[Received]) -> list[str]:
        return sorted(r for message in messages for r in message.recipients)


def public_path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC, url
    return parts.path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailingWorld]:
    root: Path = tmp_path_factory.mktemp("mailings")
    with ExitStack() as stack:
        imap = stack.enter_context(imap_server(root / "dovecot", ["news"]))
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'm.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        apply_shipped_packs(url)
        smtp = stack.enter_context(smtp_server())
        web = stack.enter_context(open_web(url, root / "app", roles=(),
                                           settings_changes={"public_url": PUBLIC},
                                           RATELIMIT_ENABLED=False))
        yield MailingWorld(web, imap, smtp)
