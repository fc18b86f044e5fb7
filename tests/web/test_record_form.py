"""Record forms: a widget per field type, create and edit through the records service, its
errors beside the fields with the typed values kept, stale edits refused, field security
(hidden fields never on the form, forged values refused)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from screen_harness import Browser, entity, field, labels, open_screens

import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "all"}
COMPANY = entity("company", field("name", required=True), title_field="name",
                 search_fields=["name"])
GADGET = entity(
    "gadget",
    field("title", required=True, max_length=80),
    field("price", "money", currency="USD", currencies=["USD", "EUR"]),
    field("units", "integer", min=0, max=1000),
    field("discount", "percent", scale=1),
    field("weight", "decimal", scale=3),
    field("made_on", "date"),
    field("checked_at", "datetime"),
    field("email", "email"),
    field("phone", "phone"),
    field("site", "url"),
    field("notes", "textarea"),
    field("fragile", "boolean"),
    field("colour", "picklist", choices=[{"value": "red", "label": labels("Red", "Красный")},
                                         {"value": "blue", "label": labels("Blue", "Синий")}]),
    field("tags", "multi_picklist", choices=[{"value": "new", "label": labels("New")},
                                             {"value": "sale", "label": labels("Sale")}]),
    field("maker", "reference", entity="company"),
    field("keeper", "user"),
    field("serial", "auto_number", prefix="G-", digits=4),
    field("extra", "json"),
    field("cost", "decimal"),
    field("code", "text", read_only=True),
    title_field="title", search_fields=["title"],
)
FORM = {
    "kind": "view", "name": "gadget_form", "version": 1, "label": labels("Gadget"),
    "entity": "gadget", "type": "form",
    "sections": [{"label": labels("Main", "Главное"), "fields": ["title", "price", "cost"],
                  "columns": 2},
                 {"label": labels("Stock"), "fields": ["units", "made_on"]}],
}
CLERK = role("clerk", entities={"gadget": {**ALL, "fields": {"cost": "hidden"}},
                                "company": ALL})
VIEWER = role("viewer", entities={"gadget": {"read": "all"}, "company": {"read": "all"}})
DOCUMENTS = (COMPANY, GADGET, FORM, CLERK, VIEWER)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found
    return found.group(1)


def create(browser: Browser, data: dict[str, Any]) -> Any:
    return browser.post("/app/r/gadget/new", data)


def record_id(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    location: str = response.headers["Location"]
    assert re.fullmatch(r"/app/r/gadget/[0-9a-f-]{36}", location), location
    return location.rsplit("/", 1)[1]


def error_beside(page: str, name: str) -> str:
    found = re.search(rf'data-field-error="{name}"[^>]*>([^<]*)<', page)
    assert found, f"no error slot for {name}"
    return found.group(1).strip()


def test_the_form_has_a_widget_per_field_type_with_constraints(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        page = screens.user("ann", "boss").text("/app/r/gadget/new")
        assert re.search(r'<input type="text" id="f-title" name="title" value=""\s+'
                         r'maxlength="80" required', page)
        assert 'class="required-marker"' in page
        assert 'name="price.amount"' in page and 'name="price.currency"' in page
        assert '<option value="EUR"' in page and 'step="0.01"' in page
        assert re.search(r'type="number" id="f-units" name="units"[^>]*step="1" min="0" '
                         r'max="1000"', page)
        assert re.search(r'id="f-discount"[^>]*step="0.1"', page)
        assert re.search(r'id="f-weight"[^>]*step="0.001"', page)
        assert 'type="date" id="f-made_on"' in page
        assert 'type="datetime-local" step="1" id="f-checked_at"' in page
        assert 'type="email" id="f-email"' in page and 'type="tel" id="f-phone"' in page
        assert 'type="url" id="f-site"' in page
        assert '<textarea id="f-notes"' in page and 'type="checkbox" id="f-fragile"' in page
        assert '<option value="red" >Red</option>' in page
        assert 'type="checkbox" name="tags" value="sale"' in page
        assert 'data-lookup="/app/lookup/company"' in page
        assert 'id="f-keeper" name="keeper"' in page and ">ann</option>" in page
        assert 'name="serial"' not in page and 'data-read-only="serial"' in page
        assert 'name="code"' not in page and 'data-read-only="code"' in page
        assert '<textarea id="f-extra" name="extra"' in page
        assert 'button type="submit" class="primary" data-action="save"' in page
        # the form layout's sections first, the fields it leaves out after them
        assert page.index(">Main</legend>") < page.index(">Stock</legend>") < page.index(
            "More fields")


def test_create_through_the_form_shows_the_record(isolated_database_url: str,
                                                  tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        ann = screens.user("ann", "boss")
        maker = ann.post("/app/r/company/new", {"name": "Acme"})
        maker_id = maker.headers["Location"].rsplit("/", 1)[1]
        keeper = screens.web.create_user("kim", "clerk")
        new = record_id(create(ann, {
            "title": "Lamp", "price.amount": "12.5", "price.currency": "EUR",
            "units": "3", "discount": "7.5", "made_on": "2024-05-31",
            "checked_at": "2024-05-31T14:30", "email": "a@example.com", "phone": "+14155550123",
            "site": "https://example.com", "notes": "two\nlines", "fragile": ["", "true"],
            "colour": "blue", "tags": ["", "new", "sale"], "maker": maker_id,
            "keeper": str(keeper.id), "extra": '{"a": 1}'}))
        page = ann.text(f"/app/r/gadget/{new}")
        assert re.search(r'data-field="title">Lamp<', page)
        assert re.search(r'data-field="price">€12.50<', page)
        assert re.search(r'data-field="colour">Blue<', page)
        assert re.search(r'data-field="tags">New, Sale<', page)
        assert re.search(r'data-field="fragile">Yes<', page)
        assert f'<a href="/app/r/company/{maker_id}">Acme</a>' in page
        assert re.search(r'data-field="keeper">kim<', page)
        assert re.search(r'data-field="serial">G-\d{4}<', page)
        assert re.search(r'data-field="checked_at">May 31, 2024, 2:30:00\s?PM<', page)
        # the edit form shows the stored values back
        form = ann.text(f"/app/r/gadget/{new}/edit")
        assert 'name="_version" value="1"' in form
        assert 'value="2024-05-31T14:30:00"' in form and 'data-lookup-title="Acme"' in form
        assert 'value="sale"\n      checked' in form or re.search(
            r'value="sale"\s+checked', form)


def test_required_missing_comes_back_beside_the_field_with_the_values_kept(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        ann = screens.user("ann", "boss")
        response = create(ann, {"title": " ", "units": "5", "colour": "red",
                                "price.amount": "9", "price.currency": "EUR"})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert error_beside(page, "title")
        assert not error_beside(page, "units")
        assert 'name="units" value="5"' in page
        assert '<option value="red" selected>' in page
        assert re.search(r'name="price.amount"\s+value="9"', page)
        assert '<option value="EUR" selected>' in page
        bad = create(ann, {"title": "X", "units": "5000", "extra": "{nope"})
        assert bad.status_code == 422
        assert "JSON" in error_beside(bad.get_data(as_text=True), "extra")
        bad = create(ann, {"title": "X", "units": "5000"})
        assert bad.status_code == 422
        assert "at most 1000" in error_beside(bad.get_data(as_text=True), "units")



def test_a_broken_validation_rule_shows_its_message_beside_its_field_in_russian(
        isolated_database_url: str, tmp_path: Path) -> None:
    rule = {"name": "stock_needs_date", "field": "made_on",
            "when": {"field": "units", "op": "gt", "value": 0},
            "require": {"field": "made_on", "op": "is_null", "value": False},
            "message": labels("Gadgets in stock need a date.", "Укажите дату выпуска.")}
    ruled = {**GADGET, "validations": [rule]}
    with open_screens(isolated_database_url, tmp_path, COMPANY, ruled, FORM, CLERK) as screens:
        ann = screens.user("ann", "boss")
        refused = create(ann, {"title": "Vase", "units": "3"})
        assert refused.status_code == 422
        assert error_beside(refused.get_data(as_text=True), "made_on") == \
            "Gadgets in stock need a date."
        russian = ann.post("/app/r/gadget/new", {"title": "Vase", "units": "3"},
                           headers={"Accept-Language": "ru"})
        page = russian.get_data(as_text=True)
        assert error_beside(page, "made_on") == "Укажите дату выпуска."
        assert 'name="units" value="3"' in page
        record_id(create(ann, {"title": "Vase", "units": "3", "made_on": "2030-01-02"}))


def test_an_edit_saves_only_changes_and_a_stale_one_is_refused(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        ann = screens.user("ann", "boss")
        new = record_id(create(ann, {"title": "Lamp", "checked_at": "2024-05-31T14:30:05",
                                     "units": "1"}))
        edit = f"/app/r/gadget/{new}/edit"
        saved = ann.post(edit, {"_version": "1", "title": "Desk lamp", "units": "1",
                                "checked_at": "2024-05-31T14:30:05", "notes": ""})
        assert saved.status_code == 302
        page = ann.text(f"/app/r/gadget/{new}")
        assert re.search(r'data-field="title">Desk lamp<', page)
        changed = re.findall(r'data-timeline-field="(\w+)"', page.split('"updated"')[1])
        assert changed[:1] == ["title"] and "checked_at" not in changed[:2]
        stale = ann.post(edit, {"_version": "1", "title": "Old lamp"})
        assert stale.status_code == 412
        text = stale.get_data(as_text=True)
        assert "Someone else changed this record" in text and 'value="Old lamp"' in text
        assert re.search(r'data-field="title">Desk lamp<', ann.text(f"/app/r/gadget/{new}"))


def test_a_hidden_field_is_never_on_the_form_and_cannot_be_forged(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        kim = screens.user("kim", "clerk")
        page = kim.text("/app/r/gadget/new")
        assert 'name="cost"' not in page and "Cost" not in page
        forged = create(kim, {"title": "Lamp", "cost": "99"})
        assert forged.status_code == 403
        assert "99" not in forged.get_data(as_text=True)
        new = record_id(create(kim, {"title": "Lamp"}))
        assert 'name="cost"' not in kim.text(f"/app/r/gadget/{new}/edit")
        assert kim.post(f"/app/r/gadget/{new}/edit", {"title": "Lamp", "cost": "5"}
                        ).status_code == 403
        read_only = kim.post(f"/app/r/gadget/{new}/edit", {"code": "X1"})
        assert read_only.status_code in (403, 422)
        assert "data-field-error" in read_only.get_data(as_text=True)
        boss = screens.user("root", "boss")
        assert re.search(r'data-field="cost"><span class="empty">', boss.text(
            f"/app/r/gadget/{new}"))


def test_forms_are_refused_to_roles_without_the_right(isolated_database_url: str,
                                                      tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        ann = screens.user("ann", "boss")
        new = record_id(create(ann, {"title": "Lamp"}))
        vic = screens.user("vic", "viewer")
        assert vic.get("/app/r/gadget/new").status_code == 403
        assert create(vic, {"title": "Forced"}).status_code == 403
        assert vic.get(f"/app/r/gadget/{new}/edit").status_code == 403
        forced = vic.post(f"/app/r/gadget/{new}/edit", {"title": "Forced"})
        assert forced.status_code == 403
        assert re.search(r'data-field="title">Lamp<', ann.text(f"/app/r/gadget/{new}"))


def test_lookup_finds_records_the_user_may_read(isolated_database_url: str,
                                                tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        ann = screens.user("ann", "boss")
        for name in ("Acme", "Acorn", "Zeta"):
            ann.post("/app/r/company/new", {"name": name})
        found = ann.get("/app/lookup/company?q=ac").get_json()["results"]
        assert sorted(item["title"] for item in found) == ["Acme", "Acorn"]
        assert all(len(item["id"]) == 36 for item in found)
        kim = screens.user("kim", "clerk")
        assert kim.get("/app/lookup/company?q=ze").get_json()["results"][0]["title"] == "Zeta"
        nobody = screens.user("ned", "viewer")
        assert nobody.get("/app/lookup/gadget").status_code == 200
        assert screens.anonymous().get("/app/lookup/company").status_code == 302
