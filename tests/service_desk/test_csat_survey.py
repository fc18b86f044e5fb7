"""A resolved ticket's customer gets a satisfaction survey by mail (a real SMTP server on
loopback) with a signed link that needs no sign-in, works once and expires; the score
lands on the ticket as a `csat_response` and in its `csat_score`.

Permission-matrix rows of the survey page: anyone holding a valid link may answer it (the
link is the credential); a forged, expired or used link shows nothing (404)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import itsdangerous.timed
import pytest
from flask.testing import FlaskClient

from database_harness import postgres_schema, schema_url
from metacrm.api import RUNTIME_KEY
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from smtp_harness import Inbox, smtp_server
from web_harness import Web, bearer, open_web, role

SHIPPED = [dict(d.body) for d in load_documents([DEFAULT_METADATA_PATH])
           if d.pack in ("contacts", "service")]
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
LINK = re.compile(r"https://crm\.example\.com/survey/(\S+)")


class Desk:
    def __init__(self, web: Web, inbox: Inbox) -> None:
        self.web = web
        self.inbox = inbox
        web.create_user("boss", "boss")
        self.token = bearer(web.login("boss"))

    def resolved_ticket(self, **values: Any) -> tuple[str, str]:
        """A ticket resolved through the API, and the survey token mailed for it."""
        before = len(self.inbox.messages)
        response = self.web.client.post("/api/v1/records/ticket", headers=self.token,
                                        json={"subject": "Printer on fire", **values})
        assert response.status_code == 201, response.get_json()
        ticket = str(response.get_json()["data"]["id"])
        moved = self.web.client.post(f"/api/v1/records/ticket/{ticket}/transitions/resolve",
                                     headers=self.token, json={})
        assert moved.status_code == 200, moved.get_json()
        mails = self.inbox.messages[before:]
        if not mails:
            return ticket, ""
        found = LINK.search(mails[0].part("text/plain"))
        assert found, mails[0].part("text/plain")
        return ticket, found.group(1)

    def answer(self, token: str, score: str, comment: str = "") -> tuple[int, str]:
        client: FlaskClient = self.web.app.test_client()
        page = client.get(f"/survey/{token}")
        if page.status_code != 200:
            return page.status_code, page.get_data(as_text=True)
        csrf = _CSRF.search(page.get_data(as_text=True))
        assert csrf
        response = client.post(f"/survey/{token}", data={
            "csrf_token": csrf.group(1), "score": score, "comment": comment})
        return response.status_code, response.get_data(as_text=True)

    def ticket(self, ticket: str) -> dict[str, Any]:
        return self.web.client.get(f"/api/v1/records/ticket/{ticket}",
                                   headers=self.token).get_json()["data"]

    def responses(self, ticket: str) -> list[dict[str, Any]]:
        return self.web.client.get(f"/api/v1/records/csat_response?filter[ticket][eq]={ticket}",
                                   headers=self.token).get_json()["data"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("csat")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'c.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        inbox = stack.enter_context(smtp_server())
        web = stack.enter_context(open_web(
            url, root, roles=[*SHIPPED, role("boss", admin=True)],
            settings_changes={"smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                              "public_url": "https://crm.example.com"}))
        yield Desk(web, inbox)


def test_resolving_mails_a_survey_whose_answer_lands_on_the_ticket(desk: Desk) -> None:
    ticket, token = desk.resolved_ticket(customer_email="pat@example.com")
    assert token, "no survey was mailed"
    assert desk.inbox.messages[-1].recipients == ["pat@example.com"]

    status, page = desk.answer(token, "4", "Quick and kind")

    assert status == 200 and "Thank you for your answer." in page
    assert desk.ticket(ticket)["csat_score"] == 4
    [response] = desk.responses(ticket)
    assert (response["score"], response["comment"]) == (4, "Quick and kind")


def test_a_link_works_once(desk: Desk) -> None:
    ticket, token = desk.resolved_ticket(customer_email="once@example.com")
    assert desk.answer(token, "5")[0] == 200

    assert desk.answer(token, "1")[0] == 404
    assert [r["score"] for r in desk.responses(ticket)] == [5]


def test_a_forged_or_expired_link_shows_nothing(desk: Desk,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    ticket, token = desk.resolved_ticket(customer_email="late@example.com")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert desk.answer(forged, "5")[0] == 404
    later = itsdangerous.timed.time.time() + 31 * 86400
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert desk.answer(token, "5")[0] == 404
    monkeypatch.undo()
    assert desk.responses(ticket) == []


def test_a_bad_score_is_refused_and_the_link_stays_usable(desk: Desk) -> None:
    ticket, token = desk.resolved_ticket(customer_email="picky@example.com")

    status, page = desk.answer(token, "9")

    assert status == 422 and "Choose a score from 1 to 5." in page
    assert desk.responses(ticket) == []
    assert desk.answer(token, "3")[0] == 200


def test_a_ticket_without_a_customer_address_gets_no_survey(desk: Desk) -> None:
    _, token = desk.resolved_ticket()

    assert token == ""


def test_agents_read_the_answers_of_their_team_s_tickets_only(desk: Desk) -> None:
    """Matrix rows of `csat_response` under the shipped `service_agent` (read: team): the
    answer belongs to the ticket's owner; a teammate reads it (list and record), an agent
    of another team neither lists it nor opens it (404)."""
    users = {name: str(desk.web.create_user(name, "service_agent").id)
             for name in ("ann", "bob", "cyd")}
    services = desk.web.app.extensions[RUNTIME_KEY].services
    with services.engine.begin() as conn:
        services.teams.create_team(conn, "tier1")
        for name in ("ann", "bob"):
            services.teams.add_member(conn, "tier1", users[name])
    ticket, token = desk.resolved_ticket(customer_email="team@example.com",
                                         owner=users["bob"])
    assert desk.answer(token, "2")[0] == 200
    [response] = desk.responses(ticket)

    for name, sees in (("bob", True), ("ann", True), ("cyd", False)):
        headers = bearer(desk.web.login(name))
        listed = desk.web.client.get(
            f"/api/v1/records/csat_response?filter[ticket][eq]={ticket}", headers=headers)
        one = desk.web.client.get(f"/api/v1/records/csat_response/{response['id']}",
                                  headers=headers)
        assert listed.status_code == 200, (name, listed.get_json())
        assert [r["score"] for r in listed.get_json()["data"]] == ([2] if sees else []), name
        assert one.status_code == (200 if sees else 404), name
