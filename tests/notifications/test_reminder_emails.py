"""Reminders by email: a user who asked for them gets each reminder by mail too (through a
real SMTP server), once, in their zone and language; others only on the bell; and nobody
is mailed about a record they may no longer read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from metacrm.kernel.errors import ValidationFailed
from metacrm.notifications.reminder_mail import CONSUMER_NAME
from metacrm.notifications.reminders import TASK_NAME
from metacrm.services.users.preferences import UserPreferences, save_preferences
from metacrm.storage.system_tables import work_items
from smtp_harness import Inbox, smtp_server
from web_harness import Web, bearer, open_web, role

DUE = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
CALL = {"kind": "entity", "name": "callback", "version": 1,
        "label": {"en": "Callback", "ru": "Перезвон"}, "title_field": "title",
        "reminders": [{"field": "due_at", "to": ["owner"]}],
        "fields": [{"name": "title", "type": "text", "label": {"en": "Title", "ru": "Тема"}},
                   {"name": "due_at", "type": "datetime", "label": {"en": "Due", "ru": "Срок"}}]}
REP = role("rep", entities={"callback": {"read": "own", "create": "all", "update": "own"}})


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[tuple[Web, Inbox]]:
    with smtp_server() as inbox, open_web(
        isolated_database_url, tmp_path, roles=(role("boss", admin=True), REP, CALL),
        settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                          "mail_from": "CRM <crm@example.com>",
                          "public_url": "https://crm.example.com"},
        RATELIMIT_ENABLED=False,
    ) as web:
        yield web, inbox


def test_reminders_are_mailed_once_to_those_who_asked_in_their_zone_and_language(
        world: tuple[Web, Inbox]) -> None:
    web, inbox = world
    services = web.app.extensions["metacrm"].services
    ids = {name: str(web.create_user(name, "rep", email=f"{name}@example.com").id)
           for name in ("ann", "bob")}
    web.create_user("root", "boss")
    root = bearer(web.login("root"))
    services.notifications.save_preferences(services.subjects.subject_of(ids["ann"]), 30,
                                            "off", True)
    services.notifications.save_preferences(services.subjects.subject_of(ids["bob"]), 30,
                                            "off")
    save_preferences(services.engine, ids["ann"], UserPreferences("ru", "Europe/Moscow"))
    for who in ("ann", "bob"):
        response = web.client.post("/api/v1/records/callback", headers=root, json={
            "title": f"Call {who}", "owner": ids[who], "due_at": DUE.isoformat()})
        assert response.status_code == 201, response.get_json()
    tick = services.periodic[TASK_NAME]

    tick(DUE - timedelta(minutes=31))
    assert inbox.messages == []
    tick(DUE - timedelta(minutes=30))
    tick(DUE - timedelta(minutes=29))  # a second tick mails nothing again

    [mail] = inbox.messages
    assert mail.recipients == ["ann@example.com"]
    assert mail.message["Subject"] == "Напоминание: Call ann"
    text = mail.part("text/plain")
    assert "2030-03-04 13:00 Europe/Moscow" in text  # 10:00 UTC in Moscow
    assert "Перезвон «Call ann»" in text
    assert "https://crm.example.com/app/r/callback/" in text
    bob = bearer(web.login("bob"))
    reminded = web.client.get("/api/v1/notifications", headers=bob).get_json()["data"]
    assert [n["record"]["title"] for n in reminded if n["kind"] == "reminder"] == ["Call bob"]


def test_no_mail_about_a_record_the_user_no_longer_reads(world: tuple[Web, Inbox]) -> None:
    web, inbox = world
    services = web.app.extensions["metacrm"].services
    ann = str(web.create_user("ann", "rep", email="ann@example.com").id)
    bob = str(web.create_user("bob", "rep", email="bob@example.com").id)
    web.create_user("root", "boss")
    root = bearer(web.login("root"))
    services.notifications.save_preferences(services.subjects.subject_of(ann), 30, "off",
                                            "on")
    response = web.client.post("/api/v1/records/callback", headers=root, json={
        "title": "Secret", "owner": ann, "due_at": DUE.isoformat()})
    created, etag = response.get_json()["data"], response.headers["ETag"]
    tick = services.periodic[TASK_NAME]
    tick.kick = None  # the mail waits in the queue…
    tick(DUE - timedelta(minutes=30))
    reassigned = web.client.patch(f"/api/v1/records/callback/{created['id']}", headers={
        **root, "If-Match": etag}, json={"owner": bob})
    assert reassigned.status_code == 200, reassigned.get_json()
    services.dispatcher.kick()  # …and ann may no longer read the record when it runs

    assert inbox.messages == []
    with services.engine.connect() as conn:
        [item] = conn.execute(sa.select(work_items.c.status, work_items.c.last_error).where(
            work_items.c.consumer == CONSUMER_NAME)).all()
    assert item.status == "failed" and "no longer read" in item.last_error


def test_a_reminder_email_choice_that_is_not_yes_or_no_is_refused(
        world: tuple[Web, Inbox]) -> None:
    web, _ = world
    services = web.app.extensions["metacrm"].services
    ann = services.subjects.subject_of(str(web.create_user("ann", "rep").id))

    with pytest.raises(ValidationFailed) as refused:
        services.notifications.save_preferences(ann, 15, "off", "maybe")

    assert [d.pointer for d in refused.value.errors] == ["/reminder_email"]
    assert services.notifications.preferences(ann).reminder_email is False
