"""The daily email digest as users rely on it: mailed (through a real SMTP server on
loopback) to those who opted in, once a day, with their unread notifications of the last
day — only those about records they may still read — and nothing mailed twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metacrm.kernel.jobs import MailMessage
from metacrm.notifications import store
from metacrm.notifications.digest import TASK_NAME
from smtp_harness import Inbox, smtp_server
from web_harness import Web, bearer, open_web, role


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": labels("Deal"),
        "title_field": "title",
        "fields": [{"name": "title", "type": "text", "label": labels("Title")}]}
MEMO = {"kind": "entity", "name": "memo", "version": 1, "label": labels("Memo"),
        "title_field": "title",
        "fields": [{"name": "title", "type": "text", "label": labels("Title")}]}
REP = role("rep", entities={
    "deal": {"read": "own", "create": "all", "update": "own", "delete": "none",
             "export": "none"},
    "memo": {"read": "none", "create": "none", "update": "none", "delete": "none",
             "export": "none"},
})
NOW = datetime(2030, 1, 10, 7, 0, tzinfo=UTC)


class World:
    def __init__(self, web: Web, inbox: Inbox) -> None:
        self.web = web
        self.inbox = inbox
        self.services = web.app.extensions["metacrm"].services
        self.ids = {name: str(web.create_user(name, role_name, email=f"{name}@example.com").id)
                    for name, role_name in (("root", "boss"), ("ann", "rep"), ("bob", "rep"))}
        self.root = bearer(web.login("root"))
        self.tick: Callable[[datetime], None] = self.services.periodic[TASK_NAME]
        self.notifications = self.services.notifications

    def record(self, entity: str, title: str, owner: str) -> str:
        response = self.web.client.post(f"/api/v1/records/{entity}", headers=self.root,
                                        json={"title": title, "owner": self.ids[owner]})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def notify(self, who: str, entity: str, record_id: str, message: str, at: datetime
               ) -> None:
        with self.services.engine.begin() as conn:
            store.add(conn, user_id=self.ids[who], kind=store.AUTOMATION,
                      source=f"test:{message}", at=at, entity=entity, record_id=record_id,
                      message=message)

    def opt(self, who: str, digest: str) -> None:
        self.notifications.save_preferences(self.subject(who), 60, digest)

    def subject(self, who: str) -> Any:
        return self.services.subjects.subject_of(self.ids[who])

    def mails(self) -> list[tuple[list[str], str]]:
        return [(m.recipients, m.part("text/plain")) for m in self.inbox.messages]


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with smtp_server() as inbox, open_web(
        isolated_database_url, tmp_path, roles=(role("boss", admin=True), REP, DEAL, MEMO),
        settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                          "mail_from": "CRM <crm@example.com>"},
        RATELIMIT_ENABLED=False,
    ) as web:
        yield World(web, inbox)


def test_opted_in_users_get_their_readable_unread_notifications_once_a_day(
        world: World) -> None:
    acme = world.record("deal", "Acme renewal", "ann")
    board = world.record("memo", "Board minutes", "ann")      # ann may not read memos
    old = world.record("deal", "Old deal", "ann")
    seen = world.record("deal", "Seen deal", "ann")
    world.notify("ann", "deal", acme, "Call Acme back", NOW - timedelta(hours=2))
    world.notify("ann", "memo", board, "Read the board minutes", NOW - timedelta(hours=1))
    world.notify("ann", "deal", old, "Too old to mail", NOW - timedelta(hours=30))
    world.notify("ann", "deal", seen, "Already read", NOW - timedelta(hours=3))
    [read] = [n for n in world.notifications.list(world.subject("ann")).items
              if n.stored.message == "Already read"]
    world.notifications.mark_read(world.subject("ann"), [read.stored.id])
    world.notify("bob", "deal", world.record("deal", "Bob's", "bob"), "For bob", NOW)
    world.opt("ann", "daily")

    world.tick(NOW)
    world.tick(NOW + timedelta(hours=1))                      # same day: nothing more

    [(to, text)] = world.mails()
    assert to == ["ann@example.com"]
    assert "Call Acme back — Deal: Acme renewal" in text
    for absent in ("Board minutes", "Read the board minutes", "Too old", "Already read",
                   "For bob"):
        assert absent not in text
    assert world.inbox.messages[0].message["Subject"] == "1 unread notification"

    # the next day mails what is new since, not what the last digest told already
    world.notify("ann", "deal", old, "Follow up on the old deal", NOW + timedelta(hours=5))
    world.tick(NOW + timedelta(days=1))
    world.tick(NOW + timedelta(days=1, minutes=1))
    assert len(world.mails()) == 2
    text = world.mails()[1][1]
    assert "Follow up on the old deal — Deal: Old deal" in text
    assert "Call Acme back" not in text


def test_users_who_opt_out_or_have_nothing_unread_get_no_mail(world: World) -> None:
    acme = world.record("deal", "Acme renewal", "ann")
    world.notify("ann", "deal", acme, "Call Acme back", NOW - timedelta(hours=2))
    world.opt("ann", "daily")
    world.opt("bob", "daily")                                 # bob has nothing unread
    world.opt("ann", "off")

    world.tick(NOW)

    assert world.mails() == []


class _Refusing:
    def send(self, message: MailMessage) -> None:
        raise ConnectionRefusedError("the SMTP server is down")


def test_a_failed_mail_is_sent_later_not_lost_and_not_retried_every_tick(
        world: World) -> None:
    acme = world.record("deal", "Acme renewal", "ann")
    world.notify("ann", "deal", acme, "Call Acme back", NOW - timedelta(hours=2))
    world.opt("ann", "daily")
    working = world.services.mail
    world.services.mail = _Refusing()

    world.tick(NOW)
    world.services.mail = working
    world.tick(NOW + timedelta(minutes=1))          # too soon to try again
    assert world.mails() == []
    world.tick(NOW + timedelta(minutes=6))
    world.tick(NOW + timedelta(minutes=7))

    [(to, text)] = world.mails()
    assert to == ["ann@example.com"] and "Call Acme back" in text
