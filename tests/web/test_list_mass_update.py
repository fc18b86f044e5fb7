"""Mass update from the list's bulk bar (`/app/r/<entity>/mass-update`): only fields the
user may edit are offered; the value is set on the selected records the user may change,
the others are listed with their title and a translated reason, and a field that was not
offered (forged) writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

import metacrm.web.mass_update
import metacrm.web.record_form
import metacrm.web.record_list  # noqa: F401  (make the blueprints before the app is built)
from web_harness import bearer, role

OWN = {"read": "all", "create": "all", "update": "own", "delete": "own"}
TASK = entity(
    "task",
    field("subject", required=True),
    field("priority", "picklist", choices=[{"value": "low", "label": labels("Low", "Низкий")},
                                           {"value": "high",
                                            "label": labels("High", "Высокий")}]),
    field("secret"),
    field("note"),
    field("status", "state", pipeline="task_flow"),
    title_field="subject",
)
FLOW = {
    "kind": "pipeline", "name": "task_flow", "version": 1, "label": labels("Tasks"),
    "entity": "task",
    "states": [{"name": "open", "label": labels("Open")},
               {"name": "done", "label": labels("Done"), "category": "won", "locked": True}],
    "transitions": [{"name": "finish", "label": labels("Finish"), "from": ["open"],
                     "to": "done"}],
}
VIEWER = role("viewer", entities={"task": {"read": "all"}})
REP = role("rep", entities={"task": {**OWN, "fields": {"secret": "hidden",
                                                       "note": "read_only"}}},
           transitions={"task_flow": "*"})
URL = "/app/r/task"


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, TASK, FLOW, REP, VIEWER) as opened:
        yield opened


def created(browser: Browser, subject: str) -> str:
    response = browser.post(f"{URL}/new", {"subject": subject})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"].rsplit("/", 1)[1])


def stored(screens: Screens, record_id: str) -> dict[str, Any]:
    token = screens.web.login("root")
    response = screens.web.client.get(f"{URL.replace('/app/r', '/api/v1/records')}/"
                                      f"{record_id}", headers=bearer(token))
    assert response.status_code == 200
    data: dict[str, Any] = response.get_json()["data"]
    return data


def offered_fields(page: str) -> list[str]:
    select = page.split('id="bulk-field"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]+)"', select)


def test_the_bulk_bar_offers_only_fields_the_user_may_edit(screens: Screens) -> None:
    screens.user("root", "boss")
    rita = screens.user("rita", "rep")
    assert offered_fields(rita.text(URL)) == ["priority", "subject"]  # by label
    # choosing a field opens the form's own widget for it
    mine = created(rita, "Call Acme")
    page = rita.post(f"{URL}/mass-update", {"_field": "priority", "ids": [mine],
                                            "state": ""})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<select id="f-priority" name="priority"' in text
    assert '<option value="high"' in text
    assert f'name="_ids" value="{mine}"' in text


def test_the_value_is_set_where_allowed_and_refusals_are_listed(screens: Screens) -> None:
    screens.user("root", "boss")
    rita, olga = screens.user("rita", "rep"), screens.user("olga", "rep")
    mine = created(rita, "Call Acme")
    theirs = created(olga, "Call Globex")
    done = created(rita, "Send the offer")
    assert rita.post(f"{URL}/{done}/transition/finish", {"_version": "1"}).status_code == 302
    assert rita.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302

    response = rita.post(f"{URL}/mass-update", {
        "_step": "apply", "_field": "priority", "_ids": [mine, theirs, done], "_state": "",
        "priority": "high"})

    assert response.status_code == 302
    assert stored(screens, mine)["priority"] == "high"
    assert stored(screens, theirs)["priority"] is None
    assert stored(screens, done)["priority"] is None
    page = rita.text(URL)
    assert "Изменена 1 запись." in page
    assert "Call Globex: Ваши роли не позволяют изменять эту запись." in page
    assert "Send the offer: Запись в заблокированном состоянии" in page


def test_a_value_the_field_refuses_is_reported_per_record(screens: Screens) -> None:
    screens.user("root", "boss")
    rita = screens.user("rita", "rep")
    first, second = created(rita, "Call Acme"), created(rita, "Call Globex")
    rita.post(f"{URL}/mass-update", {"_step": "apply", "_field": "subject",
                                     "_ids": [first, second], "_state": "", "subject": ""})
    page = rita.text(URL)
    assert re.search(r"Call Acme: Subject: [^<]*required", page)
    assert re.search(r"Call Globex: Subject: [^<]*required", page)
    assert stored(screens, first)["subject"] == "Call Acme"


@pytest.mark.parametrize("forged", ["secret", "note", "status", "owner", "nothing", ""])
def test_a_field_that_was_not_offered_writes_nothing(screens: Screens, forged: str) -> None:
    screens.user("root", "boss")
    rita = screens.user("rita", "rep")
    mine = created(rita, "Call Acme")
    before = stored(screens, mine)

    response = rita.post(f"{URL}/mass-update", {
        "_step": "apply", "_field": forged, "_ids": [mine], "_state": "",
        forged or "subject": "forged", "secret": "forged", "note": "forged"})

    assert response.status_code == 302
    assert stored(screens, mine) == before
    page = rita.text(URL)
    assert ("This field cannot be changed in bulk." if forged
            else "Choose the field to change first.") in page


def test_mass_update_needs_the_update_permission(screens: Screens) -> None:
    screens.user("root", "boss")
    rita = screens.user("rita", "rep")
    mine = created(rita, "Call Acme")
    vera = screens.user("vera", "viewer")
    assert 'id="bulk-field"' not in vera.text(URL)
    response = vera.post(f"{URL}/mass-update", {
        "_step": "apply", "_field": "priority", "_ids": [mine], "_state": "",
        "priority": "low"})
    assert response.status_code == 403
    assert stored(screens, mine)["priority"] is None
