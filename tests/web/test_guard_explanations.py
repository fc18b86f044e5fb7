"""A step refused by its condition says which part failed, in words built from the criteria
tree and the field labels (English and Russian), asks for the fields the condition names,
and keeps what the user typed into the step's fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.board
import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all"}

LEAD = entity(
    "lead",
    field("last_name", required=True, label=labels("Last name", "Фамилия")),
    field("company_name", label=labels("Company", "Компания")),
    field("email", "email", label=labels("Email", "Эл. почта")),
    field("phone", "phone", label=labels("Phone", "Телефон")),
    field("score", "integer", label=labels("Score", "Оценка")),
    field("status", "state", pipeline="lead_flow"),
    title_field="last_name",
)
PIPELINE = {
    "kind": "pipeline", "name": "lead_flow", "version": 1, "label": labels("Leads"),
    "entity": "lead",
    "states": [{"name": "new", "label": labels("New", "Новый")},
               {"name": "qualified", "label": labels("Qualified", "Квалифицирован")}],
    "transitions": [{
        "name": "qualify", "label": labels("Qualify", "Квалифицировать"), "from": ["new"],
        "to": "qualified", "required_fields": ["company_name"],
        "condition": {"and": [
            {"or": [{"field": "email", "op": "is_null", "value": False},
                    {"field": "phone", "op": "is_null", "value": False}]},
            {"field": "score", "op": "gte", "value": 10}]}}],
}
DOCUMENTS = (LEAD, PIPELINE, role("rep", entities={"lead": ALL}, transitions={"lead_flow": "*"}))


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as opened:
        yield opened


def created(browser: Browser, data: dict[str, Any]) -> str:
    response = browser.post("/app/r/lead/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"].rsplit("/", 1)[1])


def alert(page: str) -> list[str]:
    box = page.split("data-transition-error", 1)[1].split("</div>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split())
            for item in re.findall(r"<li>(.*?)</li>", box, re.S)]


def test_a_refused_condition_names_the_failed_parts_and_keeps_the_typed_values(
        screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    lead = created(rita, {"last_name": "Lee", "score": "3"})

    page = rita.text(f"/app/r/lead/{lead}")
    refused = rita.post(f"/app/r/lead/{lead}/transition/qualify",
                        {"_version": "1", "company_name": "Acme", "score": "4"})

    step = page.split('data-transition-form="qualify"', 1)[1].split("</form>", 1)[0]
    for name in ("company_name", "email", "phone", "score"):  # required + named by the guard
        assert f'name="{name}"' in step, name
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert alert(text) == ["Email or Phone must be filled in.",
                           "This step needs: Score is at least 10."]
    assert 'name="company_name" value="Acme"' in text
    assert 'name="score" value="4"' in text
    done = rita.post(f"/app/r/lead/{lead}/transition/qualify", {
        "_version": "1", "company_name": "Acme", "phone": "+44 20 7946 0000", "score": "12"})
    assert done.status_code == 302, alert(done.get_data(as_text=True))


def test_the_explanation_is_russian_for_a_russian_user(screens: Screens) -> None:
    ivan = screens.user("ivan", "rep")
    assert ivan.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302
    lead = created(ivan, {"last_name": "Ли", "company_name": "Acme", "score": "30"})

    refused = ivan.post(f"/app/r/lead/{lead}/transition/qualify", {"_version": "1"})

    assert refused.status_code == 422
    assert alert(refused.get_data(as_text=True)) == [
        "Необходимо заполнить: Эл. почта или Телефон."]


def test_the_board_explains_a_refused_condition_too(screens: Screens) -> None:
    rita = screens.user("rita", "rep")
    lead = created(rita, {"last_name": "Lee", "company_name": "Acme", "email": "a@b.example",
                          "score": "2"})

    answer = rita.post("/app/r/lead/board/move", {"id": lead, "version": "1",
                                                  "to": "qualified"},
                       headers={"Accept": "application/json"})

    assert answer.status_code == 422
    assert answer.get_json()["message"] == "This step needs: Score is at least 10."
