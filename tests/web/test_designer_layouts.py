"""Designer: layouts — a form layout with fields reordered and moved between sections, and a
list layout's columns and sort, become live; an unsortable sort key is listed first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screen_harness import entity, field, labels, open_screens
from test_designer_pipelines import apply_preview, previewed_documents

import metacrm.web.designer.layouts  # noqa: F401  (makes the blueprint before the app)
from web_harness import role

GADGET = entity("gadget", field("title", required=True), field("tag"),
                field("size", "integer", indexed=True), field("notes", "textarea"))
FORM = {"kind": "view", "name": "gadget_form", "version": 1, "label": labels("Gadget"),
        "entity": "gadget", "type": "form", "sections": [
            {"label": labels("Main", "Главное"), "fields": ["title", "tag"], "columns": 2},
            {"label": labels("Details", "Подробно"), "fields": ["size", "notes"]}]}
LIST = {"kind": "view", "name": "gadget_list", "version": 1, "label": labels("Gadgets"),
        "entity": "gadget", "type": "list", "columns": ["title", "tag"]}
CLERK = role("clerk", entities={"gadget": {"read": "all"}})


def form_layout(**changes: str) -> dict[str, str]:
    form = {
        "label_en": "Gadget", "label_ru": "Гаджет", "action": "preview",
        "section-0-key": "s0", "section-0-position": "0", "section-0-label_en": "Main",
        "section-0-label_ru": "Главное", "section-0-columns": "2",
        "section-1-key": "s1", "section-1-position": "1", "section-1-label_en": "Details",
        "section-1-label_ru": "Подробно", "section-1-columns": "1",
        "section-2-key": "s2", "section-2-position": "2", "section-2-label_en": "",
        "field-0-name": "title", "field-0-section": "s0", "field-0-position": "2",
        "field-1-name": "tag", "field-1-section": "s0", "field-1-position": "1",
        "field-2-name": "size", "field-2-section": "s1", "field-2-position": "3",
        "field-3-name": "notes", "field-3-section": "s0", "field-3-position": "0",
    }
    form.update(changes)
    return form


def live_views(screens: Any) -> Any:
    return screens.web.app.extensions["metacrm"].metadata.live().model.views


def test_a_form_layout_with_moved_fields_becomes_live(isolated_database_url: str,
                                                      tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, FORM, LIST, CLERK) as screens:
        admin = screens.user("root", "boss")
        listing = admin.text("/app/admin/layouts")
        assert 'data-layout="gadget_form"' in listing and 'data-layout="gadget_list"' in listing
        editor = admin.text("/app/admin/layouts/gadget_form")
        assert 'data-layout-field="notes"' in editor and "data-section-select" in editor
        assert 'data-move="up"' in editor and 'data-action="preview"' in editor
        response = admin.post("/app/admin/layouts/gadget_form", form_layout())
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page[:3000]
        apply_preview(admin, page)
        sections = live_views(screens)["gadget_form"].sections
        assert [list(s["fields"]) for s in sections] == [["notes", "tag", "title"], ["size"]]
        assert sections[0]["columns"] == 2


def test_moves_work_without_a_script_and_sections_are_added(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, FORM, LIST, CLERK) as screens:
        admin = screens.user("root", "boss")
        redrawn = admin.post("/app/admin/layouts/gadget_form",
                             form_layout(move="field-1-up")).get_data(as_text=True)
        order = [redrawn.index(f'data-layout-field="{name}"') for name in
                 ("tag", "notes", "title")]
        assert order == sorted(order) and "data-change-plan" not in redrawn
        moved_up = admin.post("/app/admin/layouts/gadget_form",
                              form_layout(move="field-0-up")).get_data(as_text=True)
        assert moved_up.index('data-layout-field="title"') < moved_up.index(
            'data-layout-field="tag"')
        page = admin.post("/app/admin/layouts/gadget_form", form_layout(**{
            "section-2-label_en": "Extra", "field-2-section": "s2",
            "field-3-section": ""})).get_data(as_text=True)
        documents, _ = previewed_documents(page)
        assert [(s["label"]["en"], s["fields"]) for s in documents[0]["sections"]] == [
            ("Main", ["tag", "title"]), ("Extra", ["size"])]


def test_a_list_layout_with_columns_and_sort(isolated_database_url: str,
                                             tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, FORM, LIST, CLERK) as screens:
        admin = screens.user("root", "boss")
        editor = admin.text("/app/admin/layouts/gadget_list")
        assert 'data-layout-field="created_at"' in editor and "data-criteria-row" in editor
        form = {"label_en": "Gadgets", "action": "preview",
                "col-0-name": "size", "col-0-section": "shown", "col-0-position": "0",
                "col-1-name": "title", "col-1-section": "shown", "col-1-position": "1",
                "col-2-name": "tag", "col-2-section": "", "col-2-position": "2",
                "sort-0-field": "size", "sort-0-dir": "desc",
                "filter-r0-field": "size", "filter-r0-op": "gt", "filter-r0-value": "0"}
        page = admin.post("/app/admin/layouts/gadget_list", form).get_data(as_text=True)
        apply_preview(admin, page)
        view = live_views(screens)["gadget_list"]
        assert view.columns == ("size", "title") and view.sort == ("-size",)
        assert view.filter == {"field": "size", "op": "gt", "value": 0}
        bad = admin.post("/app/admin/layouts/gadget_list", {**form, "sort-0-field": "notes"})
        assert bad.status_code == 422 and "/sort/0" in bad.get_data(as_text=True)
        new = admin.text("/app/admin/layouts/new?entity=gadget&type=list")
        assert 'name="name"' in new


def test_only_admins_edit_layouts(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, FORM, LIST, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        assert clerk.get("/app/admin/layouts").status_code == 403
        assert clerk.get("/app/admin/layouts/gadget_form").status_code == 403
        forced = clerk.post("/app/admin/layouts/gadget_form", form_layout())
        assert forced.status_code == 403
