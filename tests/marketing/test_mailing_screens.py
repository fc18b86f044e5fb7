"""The mailing page's sending actions (`metacrm.web.mailing_actions`): the buttons a user
sees by the mailing's status and their rights, what each does (a real SMTP server on
loopback receives the mail), and refusals shown as messages on the page, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from mailing_world import MailingWorld, world

from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from web_harness import PASSWORD

__all__ = ["world"]

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_BUTTON = re.compile(r'data-mailing-action="([a-z]+)"')


@pytest.fixture(scope="module")
def users(world: MailingWorld) -> None:
    with world.web.app.app_context():
        state = identity_state()
        model = state.metadata.live().model
        for username, role_name in (("max", "marketer"), ("ola", "sales_rep")):
            create_user(state.appbuilder, model, username=username, role=role_name,
                        password=PASSWORD, email=f"{username}@ourco.example")


class Screen:
    """One user's signed-in session on the screens."""

    def __init__(self, world: MailingWorld, username: str) -> None:
        self.client: FlaskClient = world.web.app.test_client()
        self.client.post("/app/login", data={"csrf_token": self.csrf("/app/login"),
                                             "username": username, "password": PASSWORD})

    def csrf(self, path: str = "/app/") -> str:
        found = _CSRF.search(self.client.get(path).get_data(as_text=True))
        assert found, "no CSRF token on the page"
        return found.group(1)

    def page(self, mailing: str) -> tuple[int, str]:
        response = self.client.get(f"/app/r/mailing/{mailing}",
                                   headers={"Accept-Language": "en"})
        return response.status_code, response.get_data(as_text=True)

    def act(self, mailing: str, action: str, **form: str) -> tuple[int, str]:
        """Post the action's form; the status and, after a redirect, the page shown."""
        response = self.client.post(f"/app/r/mailing/{mailing}/sending/{action}", data={
            "csrf_token": self.csrf(), **form})
        if response.status_code != 302:
            return response.status_code, response.get_data(as_text=True)
        assert response.headers["Location"].endswith(f"/app/r/mailing/{mailing}")
        return 302, self.page(mailing)[1]


def buttons(page: str) -> set[str]:
    return set(_BUTTON.findall(page))


def _mailing(world: MailingWorld, tag: str, count: int = 3, granted: int = 2
             ) -> dict[str, Any]:
    people = world.persons(tag, count)
    world.grant(people[:granted])
    return world.mailing(world.segment(tag, tag.title()), subject="Hi {{ name }}")


def test_a_draft_offers_test_schedule_send_and_cancel(world: MailingWorld, users: None
                                                      ) -> None:
    mailing = _mailing(world, "offers")
    status, page = Screen(world, "mia").page(mailing["id"])
    assert status == 200
    assert buttons(page) == {"test", "schedule", "send", "cancel"}
    assert 'type="datetime-local"' in page and 'type="email"' in page


def test_a_test_goes_to_the_address_and_a_bad_address_is_a_message(
        world: MailingWorld, users: None) -> None:
    mailing = _mailing(world, "testing")
    screen = Screen(world, "mia")
    before = len(world.smtp.messages)

    status, page = screen.act(mailing["id"], "test", address="proof@ourco.example")

    assert status == 302
    assert "A test was sent to proof@ourco.example." in page
    sent = world.smtp.messages[before:]
    assert [m.recipients for m in sent] == [["proof@ourco.example"]]
    assert sent[0].message["Subject"].startswith("[Test] ")
    status, page = screen.act(mailing["id"], "test", address="not an address")
    assert status == 302
    assert "Not done: enter an email address" in page
    assert len(world.smtp.messages) == before + 1


def test_a_test_of_a_mailing_with_record_fields_renders_them_empty(
        world: MailingWorld, users: None) -> None:
    world.persons("merge", 1)
    mailing = world.mailing(world.segment("merge", "Merge"),
                            subject="Hello {{ record.first_name }}",
                            body="Dear {{ record.first_name }}{{ name }},\nOur sale.\n")
    before = len(world.smtp.messages)

    status, page = Screen(world, "mia").act(mailing["id"], "test", address="me@ourco.example")

    assert status == 302
    assert "A test was sent to me@ourco.example." in page
    [sent] = world.smtp.messages[before:]
    assert sent.part("text/plain").startswith("Dear ,\n")


def test_send_now_mails_only_persons_with_consent_and_shows_the_counts(
        world: MailingWorld, users: None) -> None:
    mailing = _mailing(world, "sendnow", count=3, granted=2)
    screen = Screen(world, "mia")
    before = len(world.smtp.messages)

    status, page = screen.act(mailing["id"], "send")
    world.services.dispatcher.sweep_once()

    assert status == 302
    assert "The mailing is being sent." in page
    assert world.received_by(world.smtp.messages[before:]) == [
        "sendnow.0@example.org", "sendnow.1@example.org"]
    page = screen.page(mailing["id"])[1]
    assert "<dt>Sent</dt><dd>2</dd>" in page and "<dt>Skipped</dt><dd>1</dd>" in page
    assert buttons(page) == set()  # a sent mailing offers nothing more
    status, page = screen.act(mailing["id"], "pause")  # a stale page's button: a 409
    assert status == 302
    assert "Not done: the mailing&#39;s status does not allow this (any more)" in page


def test_schedule_pause_resume_cancel(world: MailingWorld, users: None) -> None:
    mailing = _mailing(world, "lifecycle")
    screen = Screen(world, "mia")

    status, page = screen.act(mailing["id"], "schedule", at="2099-01-02T09:30")
    assert (status, "The mailing is scheduled." in page) == (302, True)
    stored = world.services.mailings.get(world.admin, mailing["id"])
    assert stored["status"] == "scheduled"
    assert datetime.fromisoformat(stored["scheduled_at"]) == datetime(2099, 1, 2, 9, 30,
                                                                      tzinfo=UTC)
    assert buttons(page) == {"test", "pause", "cancel"}
    status, page = screen.act(mailing["id"], "pause")
    assert buttons(page) == {"test", "resume", "cancel"}
    status, page = screen.act(mailing["id"], "resume")
    assert buttons(page) == {"test", "pause", "cancel"}
    status, page = screen.act(mailing["id"], "cancel")
    assert "The mailing is cancelled." in page
    assert buttons(page) == set()
    assert world.services.mailings.get(world.admin, mailing["id"])["status"] == "cancelled"


def test_the_schedule_is_read_in_the_users_time_zone(world: MailingWorld, users: None
                                                    ) -> None:
    mailing = _mailing(world, "tokyo")
    screen = Screen(world, "root")
    saved = screen.client.post("/app/account/profile", data={
        "csrf_token": screen.csrf(), "language": "en", "time_zone": "Asia/Tokyo",
        "date_format": "iso", "number_format": "locale"})
    assert saved.status_code == 303

    status, page = screen.act(mailing["id"], "schedule", at="2099-01-02T09:30")

    assert status == 302
    assert 'data-field="scheduled_at">2099-01-02 09:30:00<' in page  # shown as typed
    stored = world.services.mailings.get(world.admin, mailing["id"])
    assert datetime.fromisoformat(stored["scheduled_at"]) == datetime(2099, 1, 2, 0, 30,
                                                                      tzinfo=UTC)
    screen.client.post("/app/account/profile", data={
        "csrf_token": screen.csrf(), "language": "en", "time_zone": "UTC",
        "date_format": "locale", "number_format": "locale"})


def test_a_schedule_without_a_time_is_a_message(world: MailingWorld, users: None) -> None:
    mailing = _mailing(world, "notime")
    status, page = Screen(world, "mia").act(mailing["id"], "schedule", at="soon")
    assert status == 302
    assert "Not done: choose a date and time" in page
    assert world.services.mailings.get(world.admin, mailing["id"])["status"] == "draft"


def test_the_page_and_messages_in_russian(world: MailingWorld, users: None) -> None:
    mailing = _mailing(world, "russian")
    screen = Screen(world, "mia")
    response = screen.client.post(
        f"/app/r/mailing/{mailing['id']}/sending/test", headers={"Accept-Language": "ru"},
        data={"csrf_token": screen.csrf(), "address": "x"})
    assert response.status_code == 302
    page = screen.client.get(f"/app/r/mailing/{mailing['id']}",
                             headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Отправить тест" in page
    assert "Не выполнено: укажите адрес электронной почты" in page


# user -> (the page, its action buttons, a forged "cancel" of mia's draft)
MATRIX = {
    "root": (200, {"test", "schedule", "send", "cancel"}, 302),
    "mia": (200, {"test", "schedule", "send", "cancel"}, 302),
    "max": (200, set(), 403),     # a marketer reads all mailings, changes only their own
    "ola": (403, set(), 403),     # no rights on mailings
}


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_screen_matrix_of_mailing_actions(world: MailingWorld, users: None, user: str
                                          ) -> None:
    shown, offered, forged = MATRIX[user]
    mailing = _mailing(world, f"matrix{user}", count=1, granted=1)
    screen = Screen(world, user)

    status, page = screen.page(mailing["id"])
    assert status == shown
    assert buttons(page) == offered
    assert screen.act(mailing["id"], "cancel")[0] == forged
    expected = "cancelled" if forged == 302 else "draft"
    assert world.services.mailings.get(world.admin, mailing["id"])["status"] == expected
