"""The entity and field designer: every change is previewed, then applied as one version."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.designer.entities
import metacrm.web.designer.index  # noqa: F401
from metacrm.web.designer.entity_forms import replace_field
from web_harness import bearer, role

GADGET = entity("gadget", field("title", required=True), field("colour"), field("size"),
                title_field="title")
GADGET_FORM = {"kind": "view", "name": "gadget_form", "version": 1,
               "label": {"en": "Gadget", "ru": "Гаджет"}, "entity": "gadget", "type": "form",
               "sections": [{"label": {"en": "Main", "ru": "Главное"},
                             "fields": ["title", "colour"]},
                            {"label": {"en": "More", "ru": "Ещё"}, "fields": ["size"]}]}
GADGET_LIST = {"kind": "view", "name": "gadget_list", "version": 1,
               "label": {"en": "Gadgets", "ru": "Гаджеты"}, "entity": "gadget",
               "type": "list", "columns": ["title", "created_at", "colour", "size"]}
CLERK = role("clerk", entities={"gadget": {"read": "all", "create": "all"}})
DOCUMENTS = (GADGET, GADGET_FORM, GADGET_LIST, CLERK)

_HIDDEN = re.compile(r'<input type="hidden" name="(documents|expected_version)" value="([^"]*)"')


def hidden_inputs(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def apply_preview(browser: Browser, page: str, **extra: str) -> Any:
    """Press Apply on a preview page (its hidden documents and version)."""
    values = hidden_inputs(page)
    assert "documents" in values, page[:2000]
    return browser.post("/app/admin/changes/apply", {**values, "done_url": "/app/admin/",
                                                     **extra})


def preview(browser: Browser, path: str, data: dict[str, str], status: int = 200) -> str:
    response = browser.post(path, data)
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:3000]
    return page


def live(screens: Screens) -> Any:
    return screens.web.app.extensions["metacrm"].metadata.live()


def sections(model: Any, view: str) -> list[list[str]]:
    """The fields of a form view's sections, as plain lists."""
    return [list(section["fields"]) for section in model.views[view].sections]


def test_admin_creates_an_entity_and_uses_it_at_once(isolated_database_url: str,
                                                     tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        start = admin.text("/app/admin/")
        for url in ("/app/admin/entities", "/app/admin/pipelines", "/app/admin/permissions",
                    "/app/admin/triggers", "/app/admin/layouts", "/app/admin/teams",
                    "/app/admin/history", "/app/admin/users", "/app/admin/roles"):
            assert f'href="{url}"' in start
        listing = admin.text("/app/admin/entities")
        assert 'data-action="new-entity"' in listing and 'data-designer-entity="gadget"' in listing
        form = admin.text("/app/admin/entities/new")
        for name in ("name", "label_en", "label_ru", "plural_en", "plural_ru"):
            assert f'name="{name}"' in form
        page = preview(admin, "/app/admin/entities/new", {
            "name": "project", "label_en": "Project", "label_ru": "Проект",
            "plural_en": "Projects", "plural_ru": "Проекты", "field_name": "title",
            "field_label_en": "Title", "field_label_ru": "Название", "field_type": "text",
            "field_required": "on"})
        assert "create table crm_project for new entity project" in page
        before = live(screens).number
        assert live(screens).model.entity("project") is None  # previewing applies nothing
        response = apply_preview(admin, page)
        assert response.status_code == 302
        model = live(screens).model
        assert live(screens).number == before + 1
        assert model.entity("project") is not None
        assert sections(model, "project_form") == [["title"]]
        assert model.views["project_list"].columns == ("title", "created_at")
        assert 'data-nav-entity="project"' in admin.text("/app/")
        token = screens.web.login("root")
        created = screens.web.client.post("/api/v1/records/project", json={"title": "Apollo"},
                                          headers=bearer(token))
        assert created.status_code == 201, created.get_json()
        again = preview(admin, "/app/admin/entities/new", {
            "name": "project", "label_en": "P", "field_name": "title",
            "field_label_en": "T", "field_type": "text"}, status=422)
        assert "data-change-error" in again and "exists already" in again


def test_adding_a_field_puts_it_on_the_views_and_the_api(isolated_database_url: str,
                                                         tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        page = admin.text("/app/admin/entities/gadget")
        assert 'data-action="add-field"' in page
        form = admin.text("/app/admin/entities/gadget/fields/new")
        for hook in ('name="name"', 'select id="field-type" name="type"', 'name="label_en"',
                     'name="label_ru"', 'name="required"', 'textarea id="field-choices" '
                     'name="choices"', 'data-action="preview"'):
            assert hook in form
        assert '<option value="multi_picklist"' in form  # types come from the registry
        page = preview(admin, "/app/admin/entities/gadget/fields/new", {
            "name": "priority", "type": "picklist", "label_en": "Priority",
            "label_ru": "Приоритет", "choices": "low|Low|Низкий\nhigh|High|Высокий",
            "max_length": "99"})
        assert "add field gadget.priority (picklist)" in page
        assert apply_preview(admin, page).status_code == 302
        model = live(screens).model
        priority = model.entity("gadget").field("priority")
        assert [c.value for c in priority.choices] == ["low", "high"]
        assert priority.choices[1].label == {"en": "High", "ru": "Высокий"}
        assert "max_length" not in priority.options  # options of other types are dropped
        assert sections(model, "gadget_form")[-1] == ["size", "priority"]
        assert model.views["gadget_list"].columns[-1] == "priority"
        token = screens.web.login("root")
        openapi = screens.web.client.get("/api/v1/openapi.json", headers=bearer(token))
        assert "priority" in openapi.get_data(as_text=True)
        created = screens.web.client.post("/api/v1/records/gadget", headers=bearer(token),
                                          json={"title": "Lamp", "priority": "high"})
        assert created.status_code == 201 and created.get_json()["data"]["priority"] == "high"
        entity_page = admin.text("/app/admin/entities/gadget")
        assert 'data-designer-field="priority"' in entity_page

        # editing the picklist's values: rename a label, reorder, add one
        edit = admin.text("/app/admin/entities/gadget/fields/priority")
        assert "low|Low|Низкий" in edit
        page = preview(admin, "/app/admin/entities/gadget/fields/priority", {
            "name": "priority", "type": "picklist", "label_en": "Priority",
            "label_ru": "Приоритет",
            "choices": "high|Urgent|Срочно\nmid|Medium|Средний\nlow|Low|Низкий"})
        assert apply_preview(admin, page).status_code == 302
        priority = live(screens).model.entity("gadget").field("priority")
        assert [c.value for c in priority.choices] == ["high", "mid", "low"]
        assert priority.choices[0].label["en"] == "Urgent"


def test_invalid_input_shows_errors_and_applies_nothing(isolated_database_url: str,
                                                        tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        before = live(screens).number
        bad_name = preview(admin, "/app/admin/entities/gadget/fields/new", {
            "name": "Bad Name", "type": "text", "label_en": "Bad"}, status=422)
        duplicate = preview(admin, "/app/admin/entities/gadget/fields/new", {
            "name": "colour", "type": "text", "label_en": "Colour"}, status=422)
        no_choices = preview(admin, "/app/admin/entities/gadget/fields/new", {
            "name": "mood", "type": "picklist", "label_en": "Mood", "choices": ""},
            status=422)
        bad_entity = preview(admin, "/app/admin/entities/new", {
            "name": "2fast", "label_en": "Fast", "field_name": "title",
            "field_label_en": "Title", "field_type": "text"}, status=422)
        for page in (bad_name, duplicate, no_choices, bad_entity):
            assert "data-change-error" in page and 'data-action="apply-change"' not in page
        assert "choices" in no_choices
        assert "colour" in duplicate
        assert live(screens).number == before


def test_reorder_and_hide_change_only_the_views(isolated_database_url: str,
                                                tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        page = admin.text("/app/admin/entities/gadget")
        row = page[page.index('data-designer-field="colour"'):]
        row = row[:row.index("</tr>")]
        assert 'data-move="up"' in row and 'data-move="down"' in row and "data-hide=" in row
        entity_before = live(screens).model.entity("gadget")

        page = preview(admin, "/app/admin/entities/gadget/order", {"down": "colour"})
        assert "No schema changes" in page
        assert apply_preview(admin, page).status_code == 302
        model = live(screens).model
        # colour moved past the end of its section into the next; section sizes are kept
        assert sections(model, "gadget_form") == [["title", "size"], ["colour"]]
        assert model.views["gadget_list"].columns == ("title", "created_at", "size", "colour")
        assert model.entity("gadget") == entity_before

        page = preview(admin, "/app/admin/entities/gadget/order",
                       {"order": "colour,title,size"})
        assert apply_preview(admin, page).status_code == 302
        assert sections(live(screens).model, "gadget_form") == [["colour", "title"], ["size"]]

        page = preview(admin, "/app/admin/entities/gadget/fields/size/hide", {})
        assert "No schema changes" in page
        assert apply_preview(admin, page).status_code == 302
        model = live(screens).model
        # the emptied section is dropped
        assert sections(model, "gadget_form") == [["colour", "title"]]
        assert "size" not in model.views["gadget_list"].columns
        assert model.entity("gadget").has_field("size")  # the data stays
        page = admin.text("/app/admin/entities/gadget")
        row = page[page.index('data-designer-field="size"'):]
        assert 'data-field-state="hidden"' in row[:row.index("</tr>")]

        page = preview(admin, "/app/admin/entities/gadget/fields/size/show", {})
        assert apply_preview(admin, page).status_code == 302
        assert "size" in sections(live(screens).model, "gadget_form")[-1]


def test_deleting_a_field_needs_the_confirmation(isolated_database_url: str,
                                                 tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        token = screens.web.login("root")
        made = screens.web.client.post("/api/v1/records/gadget", headers=bearer(token),
                                       json={"title": "Lamp", "size": "XL"})
        record_id = made.get_json()["data"]["id"]
        before = live(screens).number
        page = preview(admin, "/app/admin/entities/gadget/fields/size/delete", {})
        assert "[destructive] remove field gadget.size" in page
        assert "data-confirm-destructive" in page
        refused = apply_preview(admin, page)
        assert refused.status_code == 409
        assert live(screens).number == before
        assert live(screens).model.entity("gadget").has_field("size")
        assert apply_preview(admin, page, confirm_destructive="yes").status_code == 302
        model = live(screens).model
        assert not model.entity("gadget").has_field("size")
        assert all("size" not in names for names in sections(model, "gadget_form"))
        assert "size" not in model.views["gadget_list"].columns
        record = screens.web.client.get(f"/api/v1/records/gadget/{record_id}",
                                        headers=bearer(token)).get_json()["data"]
        assert "size" not in record and record["title"] == "Lamp"


def test_changing_a_fields_type_shows_the_destructive_plan(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        page = preview(admin, "/app/admin/entities/gadget/fields/size", {
            "name": "size", "type": "integer", "label_en": "Size", "label_ru": "Размер",
            "required": "on", "min": "1"})
        assert "[destructive] change field gadget.size" in page
        assert "data-confirm-destructive" in page
        assert apply_preview(admin, page, confirm_destructive="yes").status_code == 302
        size = live(screens).model.entity("gadget").field("size")
        assert size.type == "integer" and size.required and size.options["min"] == 1


def test_only_admins_reach_the_entity_designer(isolated_database_url: str,
                                               tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        clerk = screens.user("ann", "clerk")
        before = live(screens).number
        for path in ("/app/admin/", "/app/admin/entities", "/app/admin/entities/new",
                     "/app/admin/entities/gadget", "/app/admin/entities/gadget/edit",
                     "/app/admin/entities/gadget/fields/new",
                     "/app/admin/entities/gadget/fields/colour"):
            assert clerk.get(path).status_code == 403, path
        for path in ("/app/admin/entities/new", "/app/admin/entities/gadget/edit",
                     "/app/admin/entities/gadget/fields/new",
                     "/app/admin/entities/gadget/fields/colour",
                     "/app/admin/entities/gadget/fields/colour/delete",
                     "/app/admin/entities/gadget/fields/colour/hide",
                     "/app/admin/entities/gadget/fields/colour/show",
                     "/app/admin/entities/gadget/order"):
            response = clerk.post(path, {"name": "x", "type": "text", "label_en": "X",
                                         "down": "colour"})
            assert response.status_code == 403, path
        assert "/app/admin/" not in clerk.text("/app/")
        assert live(screens).number == before



def test_a_new_entity_goes_to_the_group_the_admin_picks(isolated_database_url: str,
                                                        tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        form = admin.text("/app/admin/entities/new")
        groups = form.split('name="group"', 1)[1].split("</select>", 1)[0]
        assert 'value="sales"' in groups and re.search(r'value="other"\s+selected', groups)
        for name, group in (("project", "sales"), ("widget", "")):
            page = preview(admin, "/app/admin/entities/new", {
                "name": name, "label_en": name.title(), "label_ru": name.title(),
                "plural_en": name.title() + "s", "plural_ru": name.title() + "s",
                "group": group, "field_name": "title", "field_label_en": "Title",
                "field_label_ru": "Название", "field_type": "text"})
            assert apply_preview(admin, page).status_code == 302
        assert live(screens).model.entity("project").group == "sales"

        nav = admin.text("/app/").split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        headings = re.findall(r"<h2>([^<]+)</h2>", nav)
        assert "Sales" in headings and "Other" in headings
        assert not {"Admin", "ADMIN"} & set(headings)  # never the internal pack's name
        sales = nav.split("<h2>Sales</h2>", 1)[1].split("</section>", 1)[0]
        assert 'data-nav-entity="project"' in sales
        assert admin.post("/app/language", {"language": "ru", "next": "/app/"}
                          ).status_code == 302
        russian = admin.text("/app/").split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
        assert "<h2>Продажи</h2>" in russian and "<h2>Прочее</h2>" in russian


def test_the_admin_sets_a_title_template_and_a_bad_one_is_explained(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        admin = screens.user("root", "boss")
        assert 'name="title"' in admin.text("/app/admin/entities/gadget/edit")
        wrong = preview(admin, "/app/admin/entities/gadget/edit", {
            "label_en": "Gadget", "label_ru": "Гаджет", "plural_en": "Gadgets",
            "plural_ru": "Гаджеты", "title_field": "title", "group": "",
            "title": "{title} ({color})"}, status=422)
        assert "unknown field &#39;color&#39;" in wrong and "colour" in wrong
        page = preview(admin, "/app/admin/entities/gadget/edit", {
            "label_en": "Gadget", "label_ru": "Гаджет", "plural_en": "Gadgets",
            "plural_ru": "Гаджеты", "title_field": "title", "group": "",
            "title": "{title} ({colour})"})
        assert apply_preview(admin, page).status_code == 302
        gadget = live(screens).model.entity("gadget")
        assert gadget.title_field_names == ("title", "colour")


def test_deleting_a_field_drops_the_reminders_that_count_from_or_tell_it() -> None:
    chore = entity("chore", field("due", "date"), field("call_at", "datetime"),
                   field("helper", "user"), reminders=[
                       {"field": "due", "to": "owner"},
                       {"field": "call_at", "to": "helper"},
                       {"field": "call_at", "to": ["owner", "helper"]}])

    assert replace_field(chore, "helper", None)["reminders"] == [
        {"field": "due", "to": "owner"}, {"field": "call_at", "to": ["owner"]}]
    assert replace_field(chore, "due", None)["reminders"] == [
        {"field": "call_at", "to": "helper"}, {"field": "call_at", "to": ["owner", "helper"]}]
    assert "reminders" not in replace_field(
        replace_field(chore, "due", None), "call_at", None)


def test_relabelling_computed_fields_keeps_their_definitions(isolated_database_url: str,
                                                            tmp_path: Path) -> None:
    price = field("price", "money", currency="USD", default_lookup={
        "entity": "gadget", "match": {"id": "twin"}, "field": "price"})
    doubled = field("doubled", "formula", result="money", currency="USD",
                    expression="price * 2")
    gadget = entity("gadget", field("title", required=True),
                    field("twin", "reference", entity="gadget", on_delete="set_null"),
                    price, doubled, title_field="title")
    with open_screens(isolated_database_url, tmp_path, gadget, CLERK) as screens:
        admin = screens.user("root", "boss")
        form = admin.get("/app/admin/entities/gadget/fields/doubled").get_data(as_text=True)
        assert '<option value="formula" selected>' in form
        for name, type_name in (("doubled", "formula"), ("price", "money")):
            page = preview(admin, f"/app/admin/entities/gadget/fields/{name}", {
                "name": name, "type": type_name, "label_en": "Renamed", "label_ru": "Иначе",
                "currency": "USD"})
            assert apply_preview(admin, page).status_code == 302
        model = live(screens).model.entity("gadget")
        assert model.field("doubled").label["en"] == "Renamed"
        assert model.field("doubled").computed.expression == "price * 2"
        assert model.field("price").default_lookup.entity == "gadget"
