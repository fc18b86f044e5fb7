"""The kanban board: columns from the pipeline, cards and totals within the read scope,
moving a card performs the transition (or explains why not), forms work without scripts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.board  # noqa: F401  (makes the board's blueprint)
from web_harness import role

DEAL = entity(
    "deal",
    field("title", required=True),
    field("amount", "money", currency="USD"),
    field("close_date", "date"),
    field("note"),
    field("stage", "state", pipeline="deal_pipeline"),
    title_field="title",
)


def step(name: str, origin: list[str], to: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "label": labels(name.title()), "from": origin, "to": to, **extra}


PIPELINE = {
    "kind": "pipeline", "name": "deal_pipeline", "version": 1, "label": labels("Deals"),
    "entity": "deal",
    "states": [
        {"name": "qualification", "label": labels("Qualification", "Квалификация"),
         "color": "#1e88e5"},
        {"name": "proposal", "label": labels("Proposal", "Предложение")},
        {"name": "won", "label": labels("Won", "Выиграна"), "category": "won"},
    ],
    "transitions": [
        step("propose", ["qualification"], "proposal", required_fields=["amount", "close_date"]),
        step("win", ["proposal"], "won"),
        step("requalify", ["proposal"], "qualification", roles=["manager"]),
    ],
}
OWN = {"read": "own", "create": "all", "update": "own", "delete": "own", "export": "none"}
ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "all"}
DOCUMENTS = (
    DEAL, PIPELINE,
    role("rep", entities={"deal": OWN}, transitions={"deal_pipeline": ["propose", "win"]}),
    role("manager", entities={"deal": ALL}, transitions={"deal_pipeline": "*"}),
    role("viewer", entities={"deal": ALL}),
    role("auditor", entities={"deal": {**ALL, "fields": {"amount": "hidden", "note": "hidden"}}},
         transitions={"deal_pipeline": "*"}),
)
BOARD = "/app/r/deal/board"
MOVE = "/app/r/deal/board/move"
JSON = {"Accept": "application/json"}


class Sales:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.rita = screens.user("rita", "rep")
        self.ron = screens.user("ron", "rep")
        self.max = screens.user("max", "manager")

    def deal(self, who: Browser, title: str, **values: Any) -> dict[str, Any]:
        response = who.client.post("/api/v1/records/deal", json={"title": title, **values})
        assert response.status_code == 201, response.get_json()
        record: dict[str, Any] = response.get_json()["data"]
        return record

    def stage(self, record_id: str) -> str:
        response = self.max.client.get(f"/api/v1/records/deal/{record_id}")
        return str(response.get_json()["data"]["stage"])

    def move(self, who: Browser, record: dict[str, Any], to: str, **extra: Any) -> Any:
        return who.client.post(MOVE, data={"id": record["id"], "version": record["version"],
                                           "to": to, "csrf_token": who.csrf(), **extra},
                               headers=JSON)


@pytest.fixture
def sales(isolated_database_url: str, tmp_path: Path) -> Iterator[Sales]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        yield Sales(screens)


def column(page: str, state: str) -> str:
    """The HTML of one column of the board page."""
    found = re.search(rf'data-board-column="{state}".*?</section>', page, re.S)
    assert found, f"no column {state}"
    return found.group(0)


def hook(html: str, name: str) -> str:
    found = re.search(rf"{name}[^>]*>([^<]*)<", html)
    assert found, name
    return found.group(1).strip()


def test_columns_cards_and_totals_follow_the_read_scope(sales: Sales) -> None:
    sales.deal(sales.rita, "Rita small", amount={"amount": "100", "currency": "USD"})
    sales.deal(sales.rita, "Rita big", amount={"amount": "250.50", "currency": "USD"})
    sales.deal(sales.rita, "Rita empty")
    sales.deal(sales.ron, "Ron huge", amount={"amount": "1000", "currency": "USD"})
    page = sales.rita.text(BOARD)
    states = re.findall(r'data-board-column="(\w+)"', page)
    assert states == ["qualification", "proposal", "won"]
    first = column(page, "qualification")
    assert "Rita small" in first and "Rita big" in first and "Rita empty" in first
    assert "Ron huge" not in page  # own scope: not even a card
    assert hook(first, "data-column-count") == "3"
    assert hook(first, "data-column-sum") == "$350.50"
    assert hook(column(page, "proposal"), "data-column-count") == "0"
    assert hook(column(page, "proposal"), "data-column-sum") == "$0.00"
    assert re.search(r'data-card-id="[^"]+"[^>]*draggable="true"', first)
    assert 'href="/app/r/deal/' in first and "select" in first and "data-move" in first
    manager = sales.max.text(BOARD)
    assert hook(column(manager, "qualification"), "data-column-sum") == "$1,350.50"
    assert hook(column(manager, "qualification"), "data-column-count") == "4"


def test_sums_are_kept_per_currency(sales: Sales) -> None:
    sales.deal(sales.rita, "Dollars", amount={"amount": "100", "currency": "USD"})
    sales.deal(sales.rita, "Euros", amount={"amount": "50", "currency": "EUR"})
    page = sales.rita.text(BOARD)
    assert hook(column(page, "qualification"), "data-column-sum") == "€50.00, $100.00"


def test_moving_a_card_performs_the_transition(sales: Sales) -> None:
    deal = sales.deal(sales.rita, "Ready", amount={"amount": "500", "currency": "USD"},
                      close_date="2031-01-31")
    response = sales.move(sales.rita, deal, "proposal")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["ok"] and answer["card"]["state"] == "proposal"
    assert answer["card"]["version"] == deal["version"] + 1
    assert [t["state"] for t in answer["card"]["targets"]] == ["won"]  # requalify: managers
    assert answer["columns"]["proposal"]["count"] == 1
    assert answer["columns"]["proposal"]["sum_text"] == "$500.00"
    assert answer["columns"]["qualification"]["count"] == 0
    assert sales.stage(deal["id"]) == "proposal"
    history = sales.rita.client.get(f"/api/v1/records/deal/{deal['id']}/history").get_json()
    assert any(entry["action"] == "transitioned" for entry in history["data"])
    page = sales.rita.text(BOARD)
    assert deal["id"] in column(page, "proposal")


def test_a_refused_guard_names_the_missing_fields_and_keeps_the_state(sales: Sales) -> None:
    deal = sales.deal(sales.rita, "Bare")
    response = sales.move(sales.rita, deal, "proposal")
    assert response.status_code == 422
    answer = response.get_json()
    assert not answer["ok"]
    assert answer["message"] == "Needs: Amount, Close Date"
    assert answer["missing"] == ["Amount", "Close Date"]
    assert sales.stage(deal["id"]) == "qualification"
    # without scripts: the form posts, the board comes back with the explanation
    plain = sales.rita.post(MOVE, {"id": deal["id"], "version": deal["version"],
                                   "to": "proposal"})
    assert plain.status_code == 302 and plain.headers["Location"] == BOARD
    page = sales.rita.text(BOARD)
    assert 'role="alert"' in page
    assert hook(page, "data-board-message") == "Needs: Amount, Close Date"
    assert "Needs:" not in sales.rita.text(BOARD)  # shown once


def test_a_plain_form_move_redirects_back_with_the_outcome(sales: Sales) -> None:
    deal = sales.deal(sales.rita, "Plain", amount={"amount": "5", "currency": "USD"},
                      close_date="2031-01-31")
    plain = sales.rita.post(MOVE, {"id": deal["id"], "version": deal["version"],
                                   "to": "proposal"})
    assert plain.status_code == 302
    page = sales.rita.text(BOARD)
    assert hook(page, "data-board-message") == "Moved to Proposal."
    assert deal["id"] in column(page, "proposal")
    stale = sales.move(sales.rita, deal, "won")  # the version posted is the old one
    assert stale.status_code == 412
    assert "reload the board" in stale.get_json()["message"]


def test_a_role_without_the_transition_cannot_move_even_when_forced(sales: Sales) -> None:
    viewer = sales.screens.user("vic", "viewer")
    deal = sales.deal(sales.rita, "Locked", amount={"amount": "5", "currency": "USD"},
                      close_date="2031-01-31")
    page = viewer.text(BOARD)
    assert "Locked" in page
    assert "data-move" not in column(page, "qualification")
    assert 'draggable="true"' not in page
    response = sales.move(viewer, deal, "proposal")
    assert response.status_code == 403
    assert response.get_json()["message"] == "Your roles may not take this step."
    assert sales.stage(deal["id"]) == "qualification"
    # a transition restricted to managers: refused to the rep who may do the rest
    moved = sales.move(sales.rita, deal, "proposal").get_json()["card"]
    back = sales.move(sales.rita, {"id": deal["id"], "version": moved["version"]},
                      "qualification")
    assert back.status_code == 403
    assert sales.stage(deal["id"]) == "proposal"
    # no step leads there at all
    nowhere = sales.move(sales.max, {"id": deal["id"], "version": moved["version"]}, "nope")
    assert nowhere.status_code == 422


def test_other_users_cards_cannot_be_moved_outside_the_scope(sales: Sales) -> None:
    deal = sales.deal(sales.ron, "Ron's", amount={"amount": "5", "currency": "USD"},
                      close_date="2031-01-31")
    response = sales.move(sales.rita, deal, "proposal")
    assert response.status_code == 404
    assert sales.stage(deal["id"]) == "qualification"


def test_a_hidden_money_field_is_neither_shown_nor_summed(sales: Sales) -> None:
    auditor = sales.screens.user("ada", "auditor")
    sales.deal(sales.rita, "Secretive", amount={"amount": "777", "currency": "USD"},
               note="classified")
    page = auditor.text(BOARD)
    assert "Secretive" in page
    assert "data-column-sum" not in page and "777" not in page and "classified" not in page
    assert "Amount" not in page


def test_the_board_speaks_russian_and_refuses_unknown_boards(sales: Sales) -> None:
    assert sales.rita.post("/app/language", {"language": "ru", "next": "/app/"}
                           ).status_code == 302
    page = sales.rita.text(BOARD)
    assert "Квалификация" in page and 'lang="ru"' in page
    assert sales.rita.get("/app/r/nothing/board").status_code == 404
    assert sales.rita.get(f"{BOARD}?pipeline=other").status_code == 404
