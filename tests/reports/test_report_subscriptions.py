"""Scheduled report mails as users rely on them: a report's subscription mails each
recipient (through a real SMTP server on loopback) the report run as that user — a rep their
own deals, a manager everyone's — with the table in the body in their language and zone and
the whole result attached as CSV and XLSX; each cron slot once; a user who may not see a
field the report sums gets nothing. The last test is the permission matrix of this path."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from metacrm.reports.subscriptions import TASK_NAME, ReportSubscriptions
from metacrm.services.users.preferences import UserPreferences, save_preferences
from smtp_harness import Inbox, Received, smtp_server
from web_harness import Web, bearer, open_web, role


def labels(en: str, ru: str | None = None) -> dict[str, str]:
    return {"en": en, "ru": ru or en}


DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": labels("Deal"),
        "title_field": "title",
        "fields": [{"name": "title", "type": "text", "label": labels("Title")},
                   {"name": "stage", "type": "picklist", "label": labels("Stage"),
                    "choices": [{"value": "open", "label": labels("Open")},
                                {"value": "won", "label": labels("Won")}]},
                   {"name": "amount", "type": "integer", "label": labels("Amount")},
                   {"name": "closed_at", "type": "datetime", "label": labels("Closed")}]}
PERMISSIONS = {"read": "own", "create": "all", "update": "own", "delete": "none",
               "export": "none"}
ROLES = (
    role("boss", admin=True),
    role("rep", entities={"deal": PERMISSIONS}),
    role("manager", entities={"deal": {**PERMISSIONS, "read": "all"}}),
    role("blind", entities={"deal": {**PERMISSIONS, "read": "all",
                                     "fields": {"amount": "hidden"}}}),
    role("outsider"),
)
REPORT = {"kind": "report", "name": "deals_by_stage", "version": 1,
          "label": labels("Deals by stage", "Сделки по стадиям"), "entity": "deal",
          "group_by": ["stage"],
          "metrics": [{"op": "count", "name": "deals", "label": labels("Deals", "Сделки")},
                      {"op": "sum", "field": "amount", "name": "total",
                       "label": labels("Total", "Сумма")}],
          "subscriptions": [{"name": "monday", "schedule": "0 7 * * 1",
                             "roles": ["rep", "manager", "blind", "outsider"],
                             "users": ["root"]}]}
MONDAY = datetime(2030, 1, 7, 7, 0, 30, tzinfo=UTC)  # a Monday, 07:00 UTC
USERS = {"root": "boss", "ann": "rep", "bob": "rep", "max": "manager", "bo": "blind",
         "out": "outsider", "nomail": "rep"}


class World:
    def __init__(self, web: Web, inbox: Inbox) -> None:
        self.web = web
        self.inbox = inbox
        self.services = web.app.extensions["metacrm"].services
        self.ids = {name: str(web.create_user(
            name, role_name, email=None if name == "nomail" else f"{name}@example.com").id)
            for name, role_name in USERS.items()}
        self.root = bearer(web.login("root"))
        self.task: ReportSubscriptions = self.services.periodic[TASK_NAME]

    def deal(self, title: str, stage: str, amount: int, owner: str) -> None:
        response = self.web.client.post(
            "/api/v1/records/deal", headers=self.root,
            json={"title": title, "stage": stage, "amount": amount, "owner": self.ids[owner]})
        assert response.status_code == 201, response.get_json()

    def mail_of(self, who: str) -> Received:
        [mail] = [m for m in self.inbox.messages if m.recipients == [f"{who}@example.com"]]
        return mail


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with smtp_server() as inbox, open_web(
        isolated_database_url, tmp_path, roles=(*ROLES, DEAL, REPORT),
        settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                          "mail_from": "CRM <crm@example.com>"},
        RATELIMIT_ENABLED=False,
    ) as web:
        world = World(web, inbox)
        world.deal("A", "open", 100, "ann")
        world.deal("B", "won", 200, "ann")
        world.deal("C", "won", 50, "bob")
        yield world


def _attachments(mail: Received) -> dict[str, bytes]:
    return {str(part.get_filename()): part.get_payload(decode=True)
            for part in mail.message.iter_attachments()}


def _csv_rows(mail: Received) -> list[dict[str, str]]:
    [content] = [v for k, v in _attachments(mail).items() if k.endswith(".csv")]
    return list(csv.DictReader(io.StringIO(content.decode())))


def test_each_recipient_gets_the_report_of_their_own_scope(world: World) -> None:
    world.task(MONDAY)

    ann, bob, manager = world.mail_of("ann"), world.mail_of("bob"), world.mail_of("max")
    assert [(r["stage"], r["deals"], r["total"]) for r in _csv_rows(ann)] == [
        ("open", "1", "100"), ("won", "1", "200")]
    assert [(r["stage"], r["deals"], r["total"]) for r in _csv_rows(bob)] == [
        ("won", "1", "50")]
    assert [(r["stage"], r["deals"], r["total"]) for r in _csv_rows(manager)] == [
        ("open", "1", "100"), ("won", "2", "250")]
    # the body shows the same table with the grand total
    assert "Total | 2 | 300" in ann.part("text/plain")
    assert "Total | 3 | 350" in manager.part("text/plain")
    assert "<td>won</td><td>2</td><td>250</td>" in manager.part("text/html")
    # the XLSX holds the whole result too
    [xlsx] = [v for k, v in _attachments(manager).items() if k.endswith(".xlsx")]
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).active
    assert sheet is not None
    assert [tuple(row) for row in sheet.iter_rows(values_only=True)] == [
        ("stage", "deals", "total"), ("open", 1, 100), ("won", 2, 250)]
    assert manager.message["Subject"] == "Deals by stage — 2030-01-07"


def test_a_slot_is_mailed_once_even_by_several_schedulers(world: World) -> None:
    world.task(MONDAY)
    world.task(MONDAY + timedelta(hours=3))  # same slot
    other = ReportSubscriptions(world.task.reports, world.task.users, world.task.subject_of,
                                world.task.mail)  # another process: its own memory
    other(MONDAY + timedelta(hours=4))
    assert sorted(m.recipients[0] for m in world.inbox.messages) == [
        "ann@example.com", "bob@example.com", "max@example.com", "root@example.com"]

    world.task(MONDAY + timedelta(days=7))  # the next Monday
    assert len(world.inbox.messages) == 8


def test_the_mail_is_in_the_recipients_language_and_time_zone(world: World) -> None:
    save_preferences(world.services.engine, world.ids["max"],
                     UserPreferences(language="ru", time_zone="Asia/Tokyo"))

    world.task(MONDAY)

    mail = world.mail_of("max")
    text = mail.part("text/plain")
    assert mail.message["Subject"] == "Сделки по стадиям — 2030-01-07"
    assert "По состоянию на 2030-01-07 16:00 Asia/Tokyo" in text
    assert "stage | Сделки | Сумма" in text
    assert "Итого | 3 | 350" in text
    assert "As of" in world.mail_of("ann").part("text/plain")


def test_admin_text_in_the_table_is_escaped_not_run(world: World) -> None:
    world.deal("X", "open", 1, "max")
    report: Any = {**REPORT, "label": labels("<b>{{ 7*7 }}</b>")}
    response = world.web.client.put("/api/v1/meta/report/deals_by_stage", json=report,
                                    headers=world.root)
    assert response.status_code == 200, response.get_json()

    world.task(MONDAY)

    html = world.mail_of("max").part("text/html")
    assert "&lt;b&gt;{{ 7*7 }}&lt;/b&gt;" in html and "49" not in html


BAD_SUBSCRIPTIONS = [
    ({"name": "x", "schedule": "every monday", "roles": ["rep"]}, "/subscriptions/0/schedule"),
    ({"name": "x", "schedule": "0 7 * * 1", "roles": ["nobody"]}, "/subscriptions/0/roles/0"),
    ({"name": "x", "schedule": "0 7 * * 1"}, "/subscriptions/0"),
    ({"name": "x", "schedule": "0 7 * * 1", "roles": ["rep"],
      "parameters": {"period": "yesterday"}}, "/subscriptions/0/parameters/period"),
    ([{"name": "x", "schedule": "0 7 * * 1", "roles": ["rep"]},
      {"name": "x", "schedule": "0 8 * * 1", "roles": ["rep"]}], "/subscriptions/1/name"),
]


def test_a_bad_subscription_is_refused_with_its_place(world: World) -> None:
    for subscription, pointer in BAD_SUBSCRIPTIONS:
        subscriptions = subscription if isinstance(subscription, list) else [subscription]
        response = world.web.client.put(
            "/api/v1/meta/report/deals_by_stage", headers=world.root,
            json={**REPORT, "subscriptions": subscriptions})

        assert response.status_code == 422, response.get_json()
        assert pointer in {e.get("pointer") for e in response.get_json()["errors"]}, \
            response.get_json()


MATRIX = {
    "root": ("open", "1", "100"),   # admin (a named user): every deal
    "max": ("open", "1", "100"),    # read all
    "ann": ("open", "1", "100"),    # read own: her deals
    "bob": None,                    # read own: no open deal, only his won one
    "bo": "no mail",                # the summed field is hidden: refused, no mail
    "out": "no mail",               # may not read deals at all
    "nomail": "no mail",            # no deliverable address
}


def test_permission_matrix_of_scheduled_mails(world: World) -> None:
    world.task(MONDAY)

    for user, gets in MATRIX.items():
        mails = [m for m in world.inbox.messages if m.recipients[0].startswith(f"{user}@")]
        if gets == "no mail":
            assert mails == [], user
            continue
        rows = _csv_rows(mails[0])
        assert (next(((r["stage"], r["deals"], r["total"]) for r in rows
                      if r["stage"] == "open"), None)) == gets, user
