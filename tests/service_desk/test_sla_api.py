"""A ticket's SLA clocks through the API and on its record page — the permission-matrix
rows of the SLA read paths: who may read a ticket sees its clocks, nobody else does, and
a role with the SLA fields hidden sees no clocks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from flask.testing import FlaskClient

from database_harness import postgres_schema, schema_url
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from web_harness import PASSWORD, Web, bearer, open_web, role

SHIPPED = [dict(d.body) for d in load_documents([DEFAULT_METADATA_PATH])
           if d.pack in ("contacts", "service")]
TICKETS_OWN = {"ticket": {"read": "own", "create": "all", "update": "own"}}
HIDDEN_SLA = {"ticket": {"read": "all", "fields": {
    "sla_segments": "hidden", "sla_policy": "hidden"}}}
ROLES = [role("boss", admin=True), role("agent", entities=TICKETS_OWN),
         role("manager", entities={"ticket": {"read": "all"}}),
         role("outsider", entities={"person": {"read": "all"}}),
         role("blind", entities=HIDDEN_SLA)]
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class Desk:
    def __init__(self, web: Web) -> None:
        self.web = web
        self.tokens: dict[str, dict[str, str]] = {}
        for user, role_name in (("boss", "boss"), ("agent", "agent"), ("manager", "manager"),
                                ("outsider", "outsider"), ("blind", "blind"),
                                ("desk_agent", "service_agent"),
                                ("desk_manager", "service_manager")):
            web.create_user(user, role_name)
            self.tokens[user] = bearer(web.login(user))
        self.agents_ticket = self.post("agent", {"subject": "Printer on fire",
                                                 "priority": "high"})
        self.other_ticket = self.post("boss", {"subject": "Coffee machine"})

    def post(self, user: str, payload: dict[str, Any]) -> str:
        response = self.web.client.post("/api/v1/records/ticket", json=payload,
                                        headers=self.tokens[user])
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def clocks(self, user: str, ticket: str) -> tuple[int, Any]:
        response = self.web.client.get(f"/api/v1/records/ticket/{ticket}/sla",
                                       headers=self.tokens[user])
        return response.status_code, response.get_json()

    def page(self, user: str, ticket: str, language: str = "en") -> tuple[int, str]:
        client: FlaskClient = self.web.app.test_client()
        token = _CSRF.search(client.get("/app/login").get_data(as_text=True))
        assert token
        client.post("/app/login", data={"csrf_token": token.group(1), "username": user,
                                        "password": PASSWORD})
        response = client.get(f"/app/r/ticket/{ticket}",
                              headers={"Accept-Language": language})
        return response.status_code, response.get_data(as_text=True)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("sla_api")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 's.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        web = stack.enter_context(open_web(url, root, roles=[*SHIPPED, *ROLES]))
        yield Desk(web)


def test_the_clocks_are_measured_now_on_the_policys_calendar(desk: Desk) -> None:
    status, body = desk.clocks("agent", desk.agents_ticket)

    assert status == 200, body
    assert body["policy"] == "standard_support" and body["calendar"] == "support_hours"
    response = body["clocks"]["first_response"]
    assert response["target_minutes"] == 240  # high priority
    assert response["paused"] is False and response["breached"] is False
    assert response["elapsed_minutes"] + response["remaining_minutes"] == 240
    assert response["due"] is not None and response["met_at"] is None
    assert body["clocks"]["resolution"]["target_minutes"] == 2700


@pytest.mark.parametrize(("user", "ticket", "status", "has_clocks"), [
    ("boss", "agents_ticket", 200, True),
    ("agent", "agents_ticket", 200, True),
    ("agent", "other_ticket", 404, False),      # read scope own
    ("manager", "other_ticket", 200, True),     # read scope all
    ("outsider", "agents_ticket", 403, False),  # no ticket rights
    ("blind", "agents_ticket", 200, False),     # SLA fields hidden: no clocks
    # the shipped roles: an agent reads the team's tickets (here: none of theirs), a
    # service manager every ticket
    ("desk_agent", "agents_ticket", 404, False),
    ("desk_manager", "agents_ticket", 200, True),
    ("desk_manager", "other_ticket", 200, True),
])
def test_who_sees_a_tickets_clocks_in_the_api_and_on_its_page(
        desk: Desk, user: str, ticket: str, status: int, has_clocks: bool) -> None:
    ticket_id = getattr(desk, ticket)
    answered, body = desk.clocks(user, ticket_id)
    page_status, page = desk.page(user, ticket_id)

    assert answered == status, body
    assert bool(answered == 200 and body["clocks"]) == has_clocks
    assert ('data-pack="service"' in page) == has_clocks
    assert page_status == (200 if status == 200 else status)


def test_the_panel_speaks_russian(desk: Desk) -> None:
    status, page = desk.page("agent", desk.agents_ticket, "ru")

    assert status == 200
    assert "Уровень сервиса" in page and "Первый ответ" in page


def test_unknown_parameters_are_refused(desk: Desk) -> None:
    response = desk.web.client.get(f"/api/v1/records/ticket/{desk.agents_ticket}/sla?x=1",
                                   headers=desk.tokens["agent"])

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["pointer"] == "/x"


def test_a_service_agent_works_their_own_tickets(desk: Desk) -> None:
    own = desk.post("desk_agent", {"subject": "Cannot log in"})

    assert desk.clocks("desk_agent", own)[0] == 200
    moved = desk.web.client.post(f"/api/v1/records/ticket/{own}/transitions/wait_for_customer",
                                 headers=desk.tokens["desk_agent"], json={})
    assert moved.status_code == 200, moved.get_json()
    status, body = desk.clocks("desk_agent", own)
    assert status == 200 and body["clocks"]["first_response"]["paused"] is True
