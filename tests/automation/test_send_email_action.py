"""`send_email` delivers to a real SMTP server on loopback: the owner's address from the user
directory (Flask-AppBuilder users), email fields, literal addresses; rendered subject, text
and escaped HTML; a dry run sends nothing; no SMTP configured is a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from actions_harness import DOCUMENTS, ActionsWorld, open_world

from metacrm.api import RUNTIME_KEY
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.kernel.errors import ValidationFailed
from metacrm.mail import MailNotConfigured
from smtp_harness import Inbox, smtp_server
from web_harness import PASSWORD, Web, open_web

TEMPLATES = {
    "subject": "Hot lead:\n{{ record.first_name }} {{ record.last_name }}",
    "body": "{{ record.first_name }} <{{ record.email }}> scored {{ record.score }}.\n",
}


@dataclass
class Mailing:
    world: ActionsWorld
    inbox: Inbox
    web: Web

    def user(self, username: str, email: str | None) -> str:
        """A user (admin role) with this address (None: the placeholder one); their id."""
        with self.web.app.app_context():
            state = identity_state()
            created = create_user(state.appbuilder, state.metadata.live().model,
                                  username=username, role="admin", password=PASSWORD,
                                  email=email)
        return str(created.id)


@pytest.fixture
def mailing(isolated_database_url: str, tmp_path: Path) -> Iterator[Mailing]:
    with smtp_server() as inbox, open_web(
        isolated_database_url, tmp_path, roles=DOCUMENTS,
        settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                          "mail_from": "CRM <crm@example.com>"},
    ) as web:
        services = web.app.extensions[RUNTIME_KEY].services
        yield Mailing(ActionsWorld(services), inbox, web)


def test_mail_to_the_owner_with_rendered_subject_and_body(mailing: Mailing) -> None:
    owner = mailing.user("ann", "ann@example.com")
    lead = mailing.world.lead(first_name="Bob", email="bob@example.org", score=90, owner=owner)

    result = mailing.world.run("send_email", {"to": "owner", **TEMPLATES}, lead)

    (received,) = mailing.inbox.messages
    assert received.recipients == ["ann@example.com"]
    assert received.message["Subject"] == "Hot lead: Bob Lee"
    assert received.message["From"] == "CRM <crm@example.com>"
    assert received.part("text/plain") == "Bob <bob@example.org> scored 90.\n"
    assert result == {"sent": {"to": ["ann@example.com"], "subject": "Hot lead: Bob Lee"}}


def test_mail_to_fields_and_addresses_with_an_escaped_html_part(mailing: Mailing) -> None:
    lead = mailing.world.lead(first_name="<script>x</script>", email="bob@example.org")

    mailing.world.run("send_email", {
        "to": ["email", "team@example.com", "email"],
        "subject": "New lead", "body": "{{ record.first_name }}",
        "html": "<p>{{ record.first_name }}</p>",
    }, lead)

    (received,) = mailing.inbox.messages
    assert received.recipients == ["bob@example.org", "team@example.com"]
    assert received.part("text/plain") == "<script>x</script>\n"  # MIME ends text lines
    assert received.part("text/html").strip() == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_recipients_without_an_address_are_left_out(mailing: Mailing) -> None:
    placeholder = mailing.user("carl", None)  # gets <name>@users.metacrm.invalid
    lead = mailing.world.lead(owner=placeholder)

    result = mailing.world.run("send_email", {"to": ["owner", "email", "boss@example.com"],
                                              "subject": "s", "body": "b"}, lead)

    assert mailing.inbox.messages[0].recipients == ["boss@example.com"]
    assert len(result["sent"]["skipped"]) == 2
    with pytest.raises(ValidationFailed, match="no recipient") as failure:
        mailing.world.run("send_email", {"to": ["owner", "email"], "subject": "s",
                                         "body": "b"}, lead)
    assert {e.pointer for e in failure.value.errors} == {"/to"}
    assert len(mailing.inbox.messages) == 1


def test_a_dry_run_renders_but_sends_nothing(mailing: Mailing) -> None:
    owner = mailing.user("ann", "ann@example.com")
    lead = mailing.world.lead(first_name="Bob", score=5, owner=owner)

    result = mailing.world.run("send_email", {"to": "owner", **TEMPLATES}, lead, dry_run=True)

    assert result == {"would_send": {"to": ["ann@example.com"], "subject": "Hot lead: Bob Lee",
                                     "body": "Bob <> scored 5.\n"}}
    assert mailing.inbox.messages == []


def test_without_smtp_sending_fails_saying_so(isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        lead = world.lead()
        with pytest.raises(MailNotConfigured, match="METACRM_SMTP_URL is not set"):
            world.run("send_email", {"to": "a@example.com", "subject": "s", "body": "b"}, lead)
        # a dry run needs no mail server
        assert world.run("send_email", {"to": "a@example.com", "subject": "s", "body": "b"},
                         lead, dry_run=True)["would_send"]["to"] == ["a@example.com"]
