"""The list view of an entity (`/app/r/<entity>`): columns from view metadata, sort, quick
search, the filter builder, keyset pages, saved views, bulk actions, CSV export and inline
edit — each refused when the role does not allow it, and hidden fields never shown."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Screens, entity, field, labels, open_screens

import metacrm.web.record_list  # noqa: F401  (makes the blueprint before the app is built)
from web_harness import bearer, role

COMPANY = entity("company", field("name", required=True), title_field="name",
                 search_fields=["name"])
DEAL = entity(
    "deal",
    field("title", required=True, indexed=True),
    field("amount", "integer", indexed=True),
    field("kind", "picklist", choices=[{"value": "new", "label": labels("New business")},
                                       {"value": "renewal", "label": labels("Renewal")}]),
    field("secret", indexed=True),
    field("note"),
    field("company", "reference", entity="company"),
    field("stage", "state", pipeline="deal_flow"),
    title_field="title", search_fields=["title", "secret"],
)
FLOW = {
    "kind": "pipeline", "name": "deal_flow", "version": 1, "label": labels("Deals"),
    "entity": "deal",
    "states": [{"name": "open", "label": labels("Open")},
               {"name": "won", "label": labels("Won"), "category": "won"},
               {"name": "lost", "label": labels("Lost"), "category": "lost"}],
    "transitions": [
        {"name": "win", "label": labels("Win"), "from": ["open"], "to": "won",
         "required_fields": ["amount"]},
        {"name": "lose", "label": labels("Lose"), "from": ["open"], "to": "lost"},
    ],
}
LIST_VIEW = {
    "kind": "view", "name": "deal_list", "version": 1, "label": labels("All deals"),
    "entity": "deal", "type": "list", "columns": ["title", "amount", "company", "owner"],
    "sort": ["title"],
}
ALL = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "none"}
MEMO = entity("memo", field("text"))
REP = role("rep", entities={"deal": {**ALL, "fields": {"secret": "hidden", "note": "read_only"}},
                            "company": {"read": "all", "create": "all"}},
           transitions={"deal_flow": ["win", "lose"]})
ANALYST = role("analyst", entities={
    "deal": {"read": "all", "export": "all", "fields": {"secret": "hidden",
                                                        "note": "read_only"}},
    "company": {"read": "all"}})
DOCUMENTS = (COMPANY, DEAL, MEMO, FLOW, LIST_VIEW, REP, ANALYST)
URL = "/app/r/deal"


class World:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.boss = screens.user("root", "boss")
        self.token = screens.web.login("root")

    def create(self, entity_name: str, *records: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.screens.web.client.post(
            f"/api/v1/records/{entity_name}/bulk", json={"records": list(records)},
            headers=bearer(self.token))
        assert response.status_code == 201, response.get_json()
        created: list[dict[str, Any]] = response.get_json()["data"]
        return created

    def get(self, entity_name: str, record_id: str) -> Any:
        return self.screens.web.client.get(f"/api/v1/records/{entity_name}/{record_id}",
                                           headers=bearer(self.token))


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[World]:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        yield World(screens)


def row_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-record-id="([^"]+)"', page)


def titles(page: str) -> list[str]:
    return re.findall(r'data-record-link>([^<]*)</a>', page)


def headers(page: str) -> list[str]:
    return re.findall(r'<th scope="col" data-column="([^"]+)"', page)


def test_columns_come_from_the_list_view_and_values_read_well(world: World) -> None:
    acme = world.create("company", {"name": "Acme"})[0]
    world.create("deal", {"title": "Big", "amount": 1200, "company": acme["id"],
                          "kind": "renewal"})
    page = world.boss.text(URL)
    assert headers(page) == ["title", "amount", "company", "owner"]
    assert 'data-column="kind"' not in page
    assert "Acme" in page and f'href="/app/r/company/{acme["id"]}"' in page  # include=
    assert "1,200" in page  # numbers in the user's language
    assert '<td data-column="owner">root</td>' in page  # the owner's name, not an id
    assert titles(page) == ["Big"]
    # columns chosen in the builder replace the view's
    page = world.boss.text(f"{URL}?custom=1&columns=title,kind")
    assert headers(page) == ["title", "kind"]
    assert "Renewal" in page  # picklist label, not value


def test_the_new_button_shows_only_to_who_may_create(world: World) -> None:
    assert 'data-action="new"' in world.boss.text(URL)
    analyst = world.screens.user("ana", "analyst")
    page = analyst.text(URL)
    assert 'data-action="new"' not in page
    assert 'data-bulk="delete"' not in page and 'data-bulk="assign"' not in page


def test_headers_sort_the_list_both_ways(world: World) -> None:
    world.create("deal", {"title": "B", "amount": 2}, {"title": "A", "amount": 3},
                 {"title": "C", "amount": 1})
    assert titles(world.boss.text(URL)) == ["A", "B", "C"]  # the view's sort
    page = world.boss.text(f"{URL}?custom=1&sort=amount")
    assert titles(page) == ["C", "B", "A"]
    assert 'aria-sort="ascending"' in page
    assert "sort=-amount" in page  # the header now links to descending
    assert titles(world.boss.text(f"{URL}?custom=1&sort=-amount")) == ["A", "B", "C"]
    # kind has no index, but the table is small: it sorts all the same; a forced sort on
    # something else is an error, not a 500
    assert 'data-sort="kind"' in world.boss.text(f"{URL}?custom=1&columns=title,kind")
    refused = world.boss.get(f"{URL}?custom=1&sort=ghost")
    assert refused.status_code == 422
    assert "is not a field" in refused.get_data(as_text=True)


def test_quick_search_uses_the_search_fields(world: World) -> None:
    world.create("deal", {"title": "Alpha deal"}, {"title": "Beta deal"},
                 {"title": "Other", "secret": "alpha"})
    page = world.boss.text(f"{URL}?q=alph")
    assert sorted(titles(page)) == ["Alpha deal", "Other"]  # admin searches the secret too
    rep = world.screens.user("rick", "rep")
    assert titles(rep.text(f"{URL}?q=alph")) == ["Alpha deal"]  # hidden field not searched
    assert 'name="q" value="alph"' in rep.text(f"{URL}?q=alph")


def test_the_filter_builder_rows_and_api_parameters_filter(world: World) -> None:
    world.create("deal", {"title": "Small", "amount": 5}, {"title": "Mid", "amount": 50},
                 {"title": "Large", "amount": 500, "kind": "new"})
    page = world.boss.text(f"{URL}?custom=1&ff=amount&fo=gte&fv=50&ff=&fo=eq&fv=")
    assert titles(page) == ["Large", "Mid"]
    assert 'data-operators="eq ne gt gte lt lte between in not_in is_null"' in page
    assert "1 record" not in page and "2 records" in page
    # the builder shows the condition again, and the links keep it
    assert 'value="50" data-filter-value' in page
    assert "filter%5Bamount%5D%5Bgte%5D=50" in page
    page = world.boss.text(f"{URL}?custom=1&filter[amount][between]=1,60"
                           "&filter[kind][is_null]=true")
    assert titles(page) == ["Mid", "Small"]
    page = world.boss.text(f"{URL}?custom=1&ff=kind&fo=in&fv=new,renewal")
    assert titles(page) == ["Large"]


def test_an_invalid_filter_answers_a_page_with_the_error(world: World) -> None:
    world.create("deal", {"title": "Small", "amount": 5})
    response = world.boss.get(f"{URL}?custom=1&ff=amount&fo=gt&fv=lots")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "data-list-error" in page and "Amount" in page
    assert row_ids(page) == []
    assert 'value="lots"' in page  # the builder keeps what was typed, to fix it
    response = world.boss.get(f"{URL}?custom=1&ff=nope&fo=eq&fv=1")
    assert response.status_code == 422 and "data-list-error" in response.get_data(as_text=True)
    response = world.boss.get(f"{URL}?custom=1&filter=" + "{bad json")
    assert response.status_code == 422


def test_pages_follow_the_keyset_cursor(world: World) -> None:
    world.create("deal", *({"title": f"D{i:02d}", "amount": i} for i in range(7)))
    first = world.boss.text(f"{URL}?limit=3")
    assert titles(first) == ["D00", "D01", "D02"]
    assert "7 records" in first
    assert 'data-page="first"' not in first
    next_link = re.search(r'data-page="next" rel="next"\s+href="([^"]+)"', first)
    assert next_link
    second = world.boss.text(next_link.group(1).replace("&amp;", "&"))
    assert titles(second) == ["D03", "D04", "D05"]
    assert 'data-page="first"' in second
    third_link = re.search(r'data-page="next" rel="next"\s+href="([^"]+)"', second)
    assert third_link
    third = world.boss.text(third_link.group(1).replace("&amp;", "&"))
    assert titles(third) == ["D06"]
    assert 'data-page="next"' not in third


def test_saved_views_are_private_unless_shared(world: World) -> None:
    world.create("deal", {"title": "Small", "amount": 5}, {"title": "Large", "amount": 500})
    rep = world.screens.user("rick", "rep")
    other = world.screens.user("rosa", "rep")
    state = "custom=1&columns=title,amount&filter%5Bamount%5D%5Bgt%5D=100&sort=-amount"
    saved = rep.post(f"{URL}/views", {"name": "Big ones", "state": state})
    assert saved.status_code == 302
    location = saved.headers["Location"]
    view_id = location.split("view=")[1]
    page = rep.text(location)
    assert titles(page) == ["Large"] and headers(page) == ["title", "amount"]
    assert f'data-saved-view="{view_id}"' in page
    # private: rosa neither sees it in the select nor can open it
    assert "Big ones" not in other.text(URL)
    assert other.get(location).status_code == 404
    # shared (saving again under the same name replaces it)
    rep.post(f"{URL}/views", {"name": "Big ones", "state": state, "shared": "1"})
    page = other.text(URL)
    assert f'data-saved-view="{view_id}"' in page
    assert titles(other.text(location)) == ["Large"]
    # only the owner deletes it
    assert other.post(f"{URL}/views/{view_id}/delete").status_code == 403
    assert rep.post(f"{URL}/views/{view_id}/delete").status_code == 302
    assert "Big ones" not in other.text(URL)


def test_a_shared_view_never_shows_a_hidden_field(world: World) -> None:
    world.create("deal", {"title": "One", "secret": "s3cret"})
    saved = world.boss.post(f"{URL}/views", {
        "name": "With secret", "shared": "1",
        "state": "custom=1&columns=title,secret"})
    rep = world.screens.user("rick", "rep")
    page = rep.text(saved.headers["Location"])
    assert headers(page) == ["title"]
    assert "s3cret" not in page
    assert 'data-column="secret"' not in page


def test_bulk_delete_assign_and_transition(world: World) -> None:
    deals = world.create("deal", {"title": "A", "amount": 1}, {"title": "B"},
                         {"title": "C", "amount": 3}, {"title": "D"})
    ids = [d["id"] for d in deals]
    rep = world.screens.user("rick", "rep")
    rick_id = next(u for u in re.findall(r'<option value="(\d+)">([^<]+)</option>',
                                         rep.text(URL)) if u[1] == "rick")[0]
    response = rep.post(f"{URL}/bulk", {"action": "assign", "owner": rick_id,
                                        "ids": ids[:2], "state": "custom=1"})
    assert response.status_code == 302
    assert {world.get("deal", i).get_json()["data"]["owner"] for i in ids[:2]} == {rick_id}
    page = rep.text(URL)
    assert "2 records assigned." in page
    # transition: B has no amount, the guard refuses it and the page says which and why
    response = rep.post(f"{URL}/bulk", {"action": "transition", "transition": "win",
                                        "ids": ids[:2], "state": "custom=1"})
    assert response.status_code == 302
    page = rep.text(URL)
    assert "1 record moved." in page
    assert re.search(r"B: .*not possible", page)
    assert world.get("deal", ids[0]).get_json()["data"]["stage"] == "won"
    assert world.get("deal", ids[1]).get_json()["data"]["stage"] == "open"
    response = rep.post(f"{URL}/bulk", {"action": "delete", "ids": ids[2:],
                                        "state": "custom=1"})
    assert response.status_code == 302
    assert all(world.get("deal", i).status_code == 404 for i in ids[2:])
    assert "2 records deleted." in rep.text(URL)


def test_bulk_actions_are_refused_when_the_role_does_not_allow_them(world: World) -> None:
    deal = world.create("deal", {"title": "A"})[0]
    analyst = world.screens.user("ana", "analyst")
    analyst.post(f"{URL}/bulk", {"action": "delete", "ids": [deal["id"]], "state": ""})
    page = analyst.text(URL)
    assert "A: " in page  # reported as a failure
    assert world.get("deal", deal["id"]).status_code == 200


def test_export_needs_the_export_permission_and_omits_hidden_fields(world: World) -> None:
    world.create("deal", {"title": "=cmd()", "amount": 7, "secret": "s3cret", "note": "n"},
                 {"title": "Other", "amount": 1})
    rep = world.screens.user("rick", "rep")
    assert 'data-bulk="export"' not in rep.text(URL)
    assert rep.get(f"{URL}/export.csv").status_code == 403
    assert rep.post(f"{URL}/bulk", {"action": "export", "state": ""}).status_code == 403
    analyst = world.screens.user("ana", "analyst")
    page = analyst.text(URL)
    assert 'data-bulk="export"' in page
    response = analyst.get(
        f"{URL}/export.csv?custom=1&columns=title,amount,note,secret&filter[amount][gt]=5")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert "Secret" not in rows[0] and rows[0]["Note"] == "n"
    assert rows[0]["Title"] == "'=cmd()" and rows[0]["Amount"] == "7"
    ids = row_ids(page)
    selected = analyst.post(f"{URL}/bulk", {"action": "export", "ids": ids[:1], "state": ""})
    assert selected.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(selected.get_data(as_text=True))))) == 1
    everything = world.boss.get(f"{URL}/export.csv?custom=1&columns=title,secret")
    assert "s3cret" in everything.get_data(as_text=True)


def test_inline_edit_saves_and_refuses_a_stale_version(world: World) -> None:
    deal = world.create("deal", {"title": "Old", "amount": 1})[0]
    rep = world.screens.user("rick", "rep")
    page = rep.text(URL)
    assert 'data-column="amount" data-editor="number"' in page
    path = f"{URL}/{deal['id']}/inline"
    response = rep.post(path, {"field": "amount", "value": "1500",
                               "version": str(deal["version"])})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["text"] == "1,500" and answer["version"] == deal["version"] + 1
    assert world.get("deal", deal["id"]).get_json()["data"]["amount"] == 1500
    stale = rep.post(path, {"field": "amount", "value": "9", "version": str(deal["version"])})
    assert stale.status_code == 412
    assert world.get("deal", deal["id"]).get_json()["data"]["amount"] == 1500
    invalid = rep.post(path, {"field": "amount", "value": "lots",
                              "version": str(answer["version"])})
    assert invalid.status_code == 422 and invalid.get_json()["errors"]


def test_inline_edit_is_not_offered_or_allowed_without_update_rights(world: World) -> None:
    deal = world.create("deal", {"title": "Old", "note": "n"})[0]
    analyst = world.screens.user("ana", "analyst")
    page = analyst.text(f"{URL}?custom=1&columns=title,note")
    assert "data-editor" not in page.split("<tbody>")[1]
    response = analyst.post(f"{URL}/{deal['id']}/inline",
                            {"field": "title", "value": "New", "version": "1"})
    assert response.status_code == 403
    rep = world.screens.user("rick", "rep")
    hidden = rep.post(f"{URL}/{deal['id']}/inline", {"field": "secret", "value": "x"})
    assert hidden.status_code == 422
    page = rep.text(f"{URL}?custom=1&columns=title,note")
    assert '<td data-column="note">' in page  # read-only for this role: no editor
    assert 'data-column="title" data-editor="text"' in page
    read_only = rep.post(f"{URL}/{deal['id']}/inline", {"field": "note", "value": "x"})
    assert read_only.status_code == 403
    assert world.get("deal", deal["id"]).get_json()["data"]["note"] == "n"


def test_a_hidden_field_is_never_shown(world: World) -> None:
    world.create("deal", {"title": "One", "secret": "s3cret"})
    rep = world.screens.user("rick", "rep")
    page = rep.text(f"{URL}?custom=1&columns=title,secret")
    assert headers(page) == ["title"]
    assert "s3cret" not in page
    assert 'value="secret"' not in page  # neither a filter field nor a column choice
    response = rep.get(f"{URL}?custom=1&filter[secret][eq]=s3cret")
    assert response.status_code == 422
    assert "s3cret" not in row_ids(response.get_data(as_text=True))
    admin_page = world.boss.text(f"{URL}?custom=1&columns=title,secret")
    assert "s3cret" in admin_page


def test_a_view_sorting_or_filtering_on_a_hidden_field_still_lists(world: World) -> None:
    """An admin's view may sort and filter on a field some roles cannot see: their list
    drops those parts instead of failing (or ordering rows by a value they may not know)."""
    view = {**LIST_VIEW, "sort": ["secret", "-title"],
            "filter": {"and": [{"field": "secret", "op": "eq", "value": "s3cret"},
                               {"field": "kind", "op": "eq", "value": "renewal"}]}}
    response = world.screens.web.client.put("/api/v1/meta/view/deal_list", json=view,
                                            headers=bearer(world.token))
    assert response.status_code == 200, response.get_json()
    world.create("deal", {"title": "Alpha", "kind": "renewal", "secret": "s3cret"},
                 {"title": "Beta", "kind": "renewal", "secret": "other"},
                 {"title": "Gamma", "kind": "new", "secret": "s3cret"})
    rep = world.screens.user("rick", "rep")
    assert titles(rep.text(URL)) == ["Beta", "Alpha"]  # kind only, by -title
    assert titles(world.boss.text(URL)) == ["Alpha"]  # the whole view


def test_unknown_entities_and_entities_without_read_access_are_refused(world: World) -> None:
    rep = world.screens.user("rick", "rep")
    assert rep.get("/app/r/nothing").status_code == 404
    assert rep.get("/app/r/memo").status_code == 403
    assert rep.get("/app/r/memo/export.csv").status_code == 403
    assert rep.post("/app/r/memo/views", {"name": "x", "state": ""}).status_code == 403
    assert world.boss.get("/app/r/memo").status_code == 200


def test_previous_page_goes_back_one_page_at_a_time(world: World) -> None:
    world.create("deal", *({"title": f"D{i:02d}", "amount": i} for i in range(7)))

    def follow(page: str, kind: str) -> str:
        found = re.search(rf'data-page="{kind}" rel="\w+"\s+href="([^"]+)"', page)
        assert found, kind
        return world.boss.text(found.group(1).replace("&amp;", "&"))

    first = world.boss.text(f"{URL}?limit=3")
    assert 'data-page="previous"' not in first
    third = follow(follow(first, "next"), "next")
    assert titles(third) == ["D06"]
    second = follow(third, "previous")
    assert titles(second) == ["D03", "D04", "D05"]
    back_home = follow(second, "previous")
    assert titles(back_home) == ["D00", "D01", "D02"]
    assert 'data-page="previous"' not in back_home


def test_any_visible_column_sorts_and_dates_do_not_wrap(world: World) -> None:
    world.create("deal", {"title": "A", "note": "zebra"}, {"title": "B", "note": "apple"})
    page = world.boss.text(f"{URL}?custom=1&columns=title,note,created_at")
    assert 'data-sort="note"' in page  # no index on note: the table is small
    assert titles(world.boss.text(f"{URL}?custom=1&columns=title,note&sort=note")) == [
        "B", "A"]
    assert titles(world.boss.text(f"{URL}?custom=1&columns=title,note&sort=-note")) == [
        "A", "B"]
    assert '<td data-column="created_at" class="nowrap">' in page


def test_the_favicon_is_served(world: World) -> None:
    response = world.boss.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
