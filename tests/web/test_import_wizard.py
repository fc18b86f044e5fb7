"""The import wizard on the screens: upload -> mapping (suggested) -> dry run -> import ->
status with counts, errors and revert; the list's Import button; who may see what."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from screen_harness import Browser, Screens, entity, labels, open_screens

from database_harness import postgres_schema, schema_url
from web_harness import bearer, role

PERSON = {**entity("person",
                   {"name": "name", "type": "text", "label": labels("Name", "Имя"),
                    "required": True},
                   {"name": "age", "type": "integer", "label": labels("Age", "Возраст")},
                   {"name": "level", "type": "picklist", "label": labels("Level", "Уровень"),
                    "choices": [{"value": "junior", "label": labels("Junior", "Младший")},
                                {"value": "senior", "label": labels("Senior", "Старший")}]},
                   title_field="name"),
          "plural_label": labels("People", "Люди")}
ROLES = (role("loader", entities={"person": {"read": "all", "create": "all",
                                             "update": "all", "delete": "all",
                                             "import": "all"}}),
         role("reader", entities={"person": {"read": "all", "create": "all"}}))
FILE = "Имя;Возраст;Notes\nАнна;30;x\nБорис;abc;y\n".encode("cp1251")


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screens]:
    root = tmp_path_factory.mktemp("wizard")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        screens = stack.enter_context(open_screens(url, root, PERSON, *ROLES))
        screens.web.create_user("lena", "loader")
        screens.web.create_user("rita", "reader")
        screens.web.create_user("lev", "loader")
        yield screens


def uploaded(browser: Browser) -> str:
    response = browser.post("/app/import/person", {"file": (io.BytesIO(FILE), "people.csv")},
                            content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def mapping_form(page: str) -> dict[str, str]:
    """The mapping step's form as the browser would post it (selected options)."""
    form = dict(re.findall(r'<input type="hidden" name="(file_name|content)" value="([^"]*)"',
                           page))
    for name, options in re.findall(r'<select id="column-\d+" name="(column-[^"]+)">(.*?)'
                                    r"</select>", page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        form[name] = chosen.group(1) if chosen else ""
    return form


def test_upload_suggests_fields_then_a_dry_run_checks_and_the_import_writes(
        screens: Screens) -> None:
    lena = screens.sign_in("lena")
    assert 'data-action="import"' in lena.text("/app/r/person")

    page = uploaded(lena)
    form = mapping_form(page)
    assert (form["column-Имя"], form["column-Возраст"], form["column-Notes"]) == (
        "name", "age", "")

    check = lena.post("/app/import/person/start", {**form, "action": "check",
                                                    "mode": "create"})
    assert check.status_code == 302
    status = lena.text(check.headers["Location"])
    assert 'data-import-status="completed"' in status
    assert "1 created" in status and "1 failed" in status
    assert "Row 3" in status and "&#39;abc&#39; is not a number" in status
    assert "Анна" not in lena.text("/app/r/person")  # a dry run writes nothing
    assert "data-error-file" not in status

    run = lena.post("/app/import/person/start", {**form, "action": "run", "mode": "create"})
    status = lena.text(run.headers["Location"])
    assert "1 created" in status and "data-error-file" in status
    assert "Анна" in lena.text("/app/r/person")
    error_link = re.search(r'data-error-file href="([^"]+)"', status)
    assert error_link is not None
    errors = lena.get(error_link.group(1))
    assert errors.status_code == 200 and "Борис" in errors.get_data(as_text=True)

    reverted = lena.post(f"{run.headers['Location']}/revert")
    assert reverted.status_code == 302
    assert "Анна" not in lena.text("/app/r/person")


def test_the_wizard_speaks_russian(screens: Screens) -> None:
    lena = screens.sign_in("lena")
    lena.client.set_cookie("metacrm_language", "ru")
    page = lena.text("/app/import/person")
    assert "Импорт" in page and "Далее" in page


def test_without_the_import_right_there_is_no_wizard_nor_button(screens: Screens) -> None:
    rita = screens.sign_in("rita")
    assert 'data-action="import"' not in rita.text("/app/r/person")
    assert rita.get("/app/import/person").status_code == 403


def test_an_import_page_is_its_importers(screens: Screens) -> None:
    lena = screens.sign_in("lena")
    form = mapping_form(uploaded(lena))
    run = lena.post("/app/import/person/start", {**form, "action": "check",
                                                  "mode": "create"})
    lev, rita = screens.sign_in("lev"), screens.sign_in("rita")

    for other in (lev, rita):
        response = other.get(run.headers["Location"])
        assert response.status_code == 404
        assert "Борис" not in response.get_data(as_text=True)


def test_the_values_step_maps_a_files_values_to_a_picklists(screens: Screens) -> None:
    """"Next: values" lists each distinct value of a column going to a picklist; the
    chosen values are what the import stores ("leave empty" stores nothing)."""
    lena = screens.sign_in("lena")
    content = b"Name,Grade\nVera,Jr\nGleb,Sr\nOlga,Jr\nIvan,??\n"
    page = lena.post("/app/import/person", {"file": (io.BytesIO(content), "grades.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    form = {**mapping_form(page), "column-Name": "name", "column-Grade": "level",
            "mode": "create"}
    values = lena.post("/app/import/person/values", form)
    step = values.get_data(as_text=True)
    assert values.status_code == 200, step[:1000]
    assert re.findall(r'data-file-value="([^"]*)"', step) == ["Jr", "Sr", "??"]
    assert ">Junior<" in step and ">Senior<" in step
    carried = dict(re.findall(r'<input type="hidden" name="((?:column-|mode|content)[^"]*)"'
                              r' value="([^"]*)"', step))
    assert carried["column-Grade"] == "level" and carried["mode"] == "create"
    run = lena.post("/app/import/person/start", {
        **carried, "file_name": "grades.csv", "action": "run",
        "value-level-0-from": "Jr", "value-level-0-to": "junior",
        "value-level-1-from": "Sr", "value-level-1-to": "senior",
        "value-level-2-from": "??", "value-level-2-to": "__empty__"})
    status = lena.text(run.headers["Location"])
    assert "4 created" in status and "0 failed" in status, status
    token = bearer(screens.web.login("lena"))
    stored = screens.web.client.get("/api/v1/records/person?filter[name][in]=Vera,Gleb,Ivan",
                                    headers=token).get_json()["data"]
    assert {p["name"]: p.get("level") for p in stored} == {"Vera": "junior", "Gleb": "senior",
                                                           "Ivan": None}


GRADES = b"Name,Grade\nVera,Jr\nGleb,Sr\nIvan,??\n"


def test_a_saved_mapping_picked_on_the_mapping_step_fills_the_columns_and_values(
        screens: Screens) -> None:
    """A mapping saved by one import ("Save this mapping as") is offered on the next
    upload's mapping step; "Use this mapping" chooses its columns and number format, the
    values step starts from its values, and importing with it applies them."""
    lena = screens.sign_in("lena")
    page = lena.post("/app/import/person", {"file": (io.BytesIO(GRADES), "grades.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    form = mapping_form(page)
    assert form["column-Grade"] == ""  # "Grade" is not suggested for "Level"
    saving = lena.post("/app/import/person/start", {
        **form, "column-Grade": "level", "mode": "create", "locale": "ru",
        "action": "check", "save_mapping": "grades",
        "value-level-0-from": "Jr", "value-level-0-to": "junior",
        "value-level-1-from": "Sr", "value-level-1-to": "senior",
        "value-level-2-from": "??", "value-level-2-to": "__empty__"})
    assert saving.status_code == 302

    page = lena.post("/app/import/person", {"file": (io.BytesIO(GRADES), "grades2.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    picker = re.search(r'<select id="import-saved" name="saved_mapping">(.*?)</select>',
                       page, re.S)
    assert picker is not None and '<option value="grades">grades</option>' in picker.group(1)

    used = lena.post("/app/import/person/mapping", {**mapping_form(page),
                                                    "saved_mapping": "grades"})
    filled = used.get_data(as_text=True)
    assert used.status_code == 200, filled[:1000]
    form = mapping_form(filled)
    assert (form["column-Name"], form["column-Grade"]) == ("name", "level")
    assert '<option value="ru" selected>' in filled
    assert '<option value="grades" selected>grades</option>' in filled

    form = {**form, "saved_mapping": "grades", "mode": "create", "locale": "ru"}
    values = lena.post("/app/import/person/values", form).get_data(as_text=True)
    chosen = dict(re.findall(r'data-file-value="([^"]*)">.*?<option value="([^"]*)" selected>',
                             values, re.S))
    assert chosen == {"Jr": "junior", "Sr": "senior", "??": "__empty__"}

    run = lena.post("/app/import/person/start", {**form, "action": "run"})
    status = lena.text(run.headers["Location"])
    assert "3 created" in status and "0 failed" in status, status
    token = bearer(screens.web.login("lena"))
    stored = screens.web.client.get("/api/v1/records/person?filter[name][in]=Vera,Gleb,Ivan",
                                    headers=token).get_json()["data"]
    assert {p["name"]: p.get("level") for p in stored} == {"Vera": "junior", "Gleb": "senior",
                                                           "Ivan": None}


def test_the_values_step_overrides_a_picked_saved_mapping(screens: Screens) -> None:
    """What the user changes on the values step wins over the saved mapping's values."""
    lena = screens.sign_in("lena")
    saved = lena.post("/app/import/person", {"file": (io.BytesIO(GRADES), "grades.csv")},
                      content_type="multipart/form-data").get_data(as_text=True)
    lena.post("/app/import/person/start", {
        **mapping_form(saved), "column-Grade": "level", "mode": "create", "action": "check",
        "save_mapping": "juniors", "value-level-0-from": "Jr", "value-level-0-to": "junior",
        "value-level-1-from": "Sr", "value-level-1-to": "junior"})
    content = b"Name,Grade\nMila,Sr\n"
    page = lena.post("/app/import/person", {"file": (io.BytesIO(content), "mila.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    form = mapping_form(lena.post("/app/import/person/mapping", {
        **mapping_form(page), "saved_mapping": "juniors"}).get_data(as_text=True))
    run = lena.post("/app/import/person/start", {
        **form, "saved_mapping": "juniors", "mode": "create", "action": "run",
        "value-level-0-from": "Sr", "value-level-0-to": "senior"})
    assert "1 created" in lena.text(run.headers["Location"])
    token = bearer(screens.web.login("lena"))
    stored = screens.web.client.get("/api/v1/records/person?filter[name]=Mila",
                                    headers=token).get_json()["data"]
    assert [p.get("level") for p in stored] == ["senior"]


def test_picking_a_saved_mapping_needs_the_import_right_and_a_known_name(
        screens: Screens) -> None:
    lena, rita = screens.sign_in("lena"), screens.sign_in("rita")
    form = mapping_form(uploaded(lena))
    refused = rita.post("/app/import/person/mapping", {**form, "saved_mapping": "grades"})
    assert refused.status_code == 403
    unknown = lena.post("/app/import/person/mapping", {**form, "saved_mapping": "nope"})
    assert unknown.status_code in (400, 422)
    assert "nope" in unknown.get_data(as_text=True)
    assert lena.post("/app/import/person/mapping", form).status_code in (400, 422)
