"""One clock per process: moving `Services.clock` moves the time every component stamps —
records, bookmarks, duplicate scans, the mail outbox, reports — so no two of them disagree
on when something happened, and a test moves time for all of them at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services, build_services
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.jobs import MailMessage
from metacrm.mail.outbox import OutboxMailChannel
from metacrm.metadata.documents import Document
from web_harness import settings_for

LABEL = {"en": "Note", "ru": "Заметка"}
NOTE: dict[str, Any] = {
    "kind": "entity", "name": "note", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [{"name": "title", "type": "text", "label": LABEL}],
}
ADMIN_ROLE: dict[str, Any] = {"kind": "role", "name": "clock_admin", "version": 1,
                              "label": LABEL, "admin": True}
ADMIN = AccessSubject(user_id="1", username="admin", roles=("clock_admin",), is_admin=True)
MOMENT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def at(value: Any) -> datetime:
    """A stamp as an aware datetime (records answer RFC 3339 text)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def test_the_system_clock_answers_aware_utc_time() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)
    clock: Clock = utc_now  # a plain function is a clock
    assert clock().tzinfo is UTC


@pytest.fixture
def services(isolated_database_url: str, tmp_path: Path) -> Any:
    built = build_services(settings_for(isolated_database_url, tmp_path, mail_outbox=True))
    try:
        built.metadata.apply([Document.from_body(body, source=f"{body['name']}.json",
                                                 pack="test") for body in (NOTE, ADMIN_ROLE)],
                             author="test")
        yield built
    finally:
        built.close()


def test_a_moved_clock_moves_every_component(services: Services) -> None:
    assert services.clock is utc_now  # nothing replaced: the system's time
    services.clock = lambda: MOMENT

    assert services.now() == MOMENT
    assert services.records.now() == MOMENT
    assert services.reports.clock() == MOMENT

    note = services.records.create(ADMIN, "note", {"title": "Stamped"})
    assert at(note["created_at"]) == at(note["updated_at"]) == MOMENT

    services.clock = lambda: MOMENT + timedelta(hours=1)  # replaced again: still followed
    changed = services.records.update(ADMIN, "note", note["id"], {"title": "Later"})
    assert at(changed["created_at"]) == MOMENT
    assert at(changed["updated_at"]) == MOMENT + timedelta(hours=1)

    scan = services.duplicate_scans.request(ADMIN, "note")
    assert at(scan["created_at"]) == MOMENT + timedelta(hours=1)

    assert isinstance(services.mail, OutboxMailChannel)
    services.mail.send(MailMessage(to=("ann@example.com",), subject="Hi", text="Hello"))
    assert [at(m.created_at) for m in services.mail.messages()] == [MOMENT + timedelta(hours=1)]
