"""Designer: triggers — a trigger built in the editor (condition + set_fields) fires on the
next record created through the API; bad actions and conditions are listed first."""

from __future__ import annotations

import html
from pathlib import Path

from screen_harness import entity, field, open_screens
from test_designer_pipelines import apply_preview, previewed_documents

import metacrm.web.designer.triggers  # noqa: F401  (makes the blueprint before the app)
from web_harness import bearer, role

GADGET = entity("gadget", field("title", required=True), field("tag"),
                field("size", "integer"))
CLERK = role("clerk", entities={"gadget": {"read": "all", "create": "all"}})


def trigger_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "tag_big", "label_en": "Tag big gadgets", "label_ru": "Метка",
        "entity": "gadget", "event": "created", "mode": "sync", "enabled": "yes",
        "action": "preview",
        "condition-match": "and",
        "condition-r0-field": "size", "condition-r0-op": "gte", "condition-r0-value": "10",
        "condition-r1-field": "",
        "action-0-type": "set_fields", "action-0-position": "0",
        "action-0-params": '{"values": {"tag": "big"}}',
        "action-1-type": "", "action-1-position": "1",
    }
    form.update(changes)
    return form


def test_a_designed_trigger_fires_on_create(isolated_database_url: str,
                                            tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        editor = admin.text("/app/admin/triggers/new?entity=gadget")
        assert 'data-trigger-action="0"' in editor and "set_fields" in editor
        response = admin.post("/app/admin/triggers/new", trigger_form())
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page[:3000]
        documents, _ = previewed_documents(page)
        assert documents[0]["condition"] == {"field": "size", "op": "gte", "value": 10}
        assert documents[0]["actions"] == [{"type": "set_fields",
                                            "params": {"values": {"tag": "big"}}}]
        apply_preview(admin, page)
        listing = admin.text("/app/admin/triggers")
        assert 'data-trigger="tag_big"' in listing
        edit = admin.text("/app/admin/triggers/tag_big")
        assert 'data-trigger-action="0"' in edit and "condition-r0-field" in edit

        api, token = screens.web.client, bearer(screens.web.login("root"))
        big = api.post("/api/v1/records/gadget", headers=token,
                       json={"title": "Big", "size": 12})
        small = api.post("/api/v1/records/gadget", headers=token,
                         json={"title": "Small", "size": 1})
        assert big.status_code == small.status_code == 201
        fetched = api.get(f"/api/v1/records/gadget/{big.get_json()['data']['id']}",
                          headers=token).get_json()["data"]
        assert fetched["tag"] == "big"
        other = api.get(f"/api/v1/records/gadget/{small.get_json()['data']['id']}",
                        headers=token).get_json()["data"]
        assert other.get("tag") is None


def test_actions_are_reordered_and_event_options_kept(isolated_database_url: str,
                                                      tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        form = trigger_form(**{
            "event": "field_changed", "fields": "size", "changed_to": "10, null",
            "action-1-type": "set_fields", "action-1-params": '{"values": {"tag": "x"}}',
            "move": "action-1-up"})
        redrawn = html.unescape(admin.post("/app/admin/triggers/new", form).get_data(
            as_text=True))
        assert redrawn.index('"tag": "x"') < redrawn.index('"tag": "big"')
        del form["move"]
        form.update({"action-0-position": "1", "action-1-position": "0"})
        page = admin.post("/app/admin/triggers/new", form).get_data(as_text=True)
        documents, _ = previewed_documents(page)
        trigger = documents[0]
        assert [a["params"]["values"]["tag"] for a in trigger["actions"]] == ["x", "big"]
        assert trigger["fields"] == ["size"] and trigger["to"] == ["10", None]


def test_mistakes_are_listed_and_nothing_is_applied(isolated_database_url: str,
                                                    tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        metadata = screens.web.app.extensions["metacrm"].metadata
        live = metadata.live().number
        unknown = admin.post("/app/admin/triggers/new",
                             trigger_form(**{"action-0-type": "teleport"}))
        page = unknown.get_data(as_text=True)
        assert unknown.status_code == 422 and "data-change-error" in page
        assert "/actions/0" in page and "teleport" in page
        bad_params = admin.post("/app/admin/triggers/new", trigger_form(**{
            "action-0-params": '{"values": {"no_such_field": 1}}'}))
        assert bad_params.status_code == 422
        assert "/actions/0/params" in bad_params.get_data(as_text=True)
        criteria = admin.post("/app/admin/triggers/new", trigger_form(**{
            "condition-r0-op": "starts_with"}))
        assert criteria.status_code == 422
        assert "/condition" in criteria.get_data(as_text=True)
        not_json = admin.post("/app/admin/triggers/new",
                              trigger_form(**{"action-0-params": "{values"}))
        page = not_json.get_data(as_text=True)
        assert not_json.status_code == 422 and "field-error" in page
        assert "data-change-plan" not in page
        assert metadata.live().number == live and not metadata.live().model.triggers


def test_only_admins_edit_triggers(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        assert clerk.get("/app/admin/triggers").status_code == 403
        assert clerk.get("/app/admin/triggers/new").status_code == 403
        assert clerk.post("/app/admin/triggers/new", trigger_form()).status_code == 403


def test_the_condition_builder_reads_groups_lists_and_json() -> None:
    from werkzeug.datastructures import MultiDict

    from metacrm.web.designer.criteria_form import criteria_form, read_criteria, value_text

    form = MultiDict({
        "c-match": "or", "c-r0-field": "tag", "c-r0-op": "in", "c-r0-value": "a, b",
        "c-r1-field": "", "c-g0-match": "and",
        "c-g0-r0-field": "size", "c-g0-r0-op": "between", "c-g0-r0-value": "1, 5",
        "c-g0-r1-field": "title", "c-g0-r1-op": "is_null", "c-g0-r1-value": "false"})
    tree = read_criteria(form, "c", None)
    assert tree == {"or": [{"field": "tag", "op": "in", "value": ["a", "b"]},
                           {"and": [{"field": "size", "op": "between", "value": ["1", "5"]},
                                    {"field": "title", "op": "is_null", "value": False}]}]}
    shown = criteria_form("c", tree, [])
    assert shown.match == "or" and [r.value for r in shown.rows] == ["a, b"]
    assert [r.field for r in shown.groups[0].rows] == ["size", "title"]
    deep = {"not": {"field": "tag", "op": "eq", "value": "x"}}
    assert criteria_form("c", deep, []).json_text is not None  # edited as JSON instead
    assert read_criteria(MultiDict({"c-json": '{"not": {"field": "tag", "op": "eq", '
                                             '"value": "x"}}'}), "c", None) == deep
    assert read_criteria(MultiDict({"c-json": ""}), "c", None) is None
    assert value_text(["$today", {"$today": {"days": 30}}]).startswith("[")
