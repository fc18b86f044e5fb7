"""Interceptors run before every save, whatever the path: they fill values (even read-only
ones), refuse with a pointer, and compose in order across packs."""

from __future__ import annotations

from pathlib import Path

from pack_harness import CSRF, open_world, pack_role, sign_in, write_pack

TOTALS = '''
from decimal import Decimal
from metacrm.extension import Refused

def install(ctx):
    def totals(save):
        quantity = Decimal(save.record.get("quantity") or "0")
        if quantity > 100:
            raise Refused("at most 100 per line", "/quantity")
        price = Decimal(save.record.get("price") or "0")
        return {"total": str(quantity * price)}
    ctx.intercept("line", totals, order=10)
'''

NOTES = '''
def install(ctx):
    def note(save):
        return {"note": "total was " + str(save.record.get("total"))}
    ctx.intercept("line", note, order=20)
'''


def test_interceptor_fills_a_read_only_field_on_create_and_update(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        line = world.create("line", deal=deal["id"], quantity="3", price="2.50")
        assert line["total"] == "7.50"
        response = world.client.patch(f"/api/v1/records/line/{line['id']}",
                                      json={"quantity": "4"}, headers=world.clerk)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["data"]["total"] == "10.00"


def test_a_caller_still_cannot_write_the_read_only_field(isolated_database_url: str,
                                                         tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        response = world.post("/api/v1/records/line",
                              {"deal": deal["id"], "quantity": "1", "total": "999"})
        assert response.status_code == 422
        assert [e["pointer"] for e in response.get_json()["errors"]] == ["/total"]


def test_refusal_is_a_422_at_the_field_and_nothing_is_written(isolated_database_url: str,
                                                               tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        response = world.post("/api/v1/records/line", {"deal": deal["id"], "quantity": "101"})
        assert response.status_code == 422
        body = response.get_json()
        assert body["errors"] == [{"message": "at most 100 per line", "pointer": "/quantity"}]
        listed = world.client.get("/api/v1/records/line", headers=world.clerk).get_json()
        assert listed["data"] == []


def test_bulk_writes_go_through_the_interceptors(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        response = world.post("/api/v1/records/line/bulk", {"records": [
            {"deal": deal["id"], "quantity": "1", "price": "1"},
            {"deal": deal["id"], "quantity": "2", "price": "3"}]})
        assert response.status_code in (200, 201), response.get_json()
        assert [r["total"] for r in response.get_json()["data"]] == ["1.00", "6.00"]


def test_two_packs_interceptors_run_in_order_and_see_each_others_values(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals"),
                    pack_role("notes")) as world:
        # loaded in the opposite order of their `order`: the order decides
        world.host.sync([write_pack(tmp_path, "notes", NOTES),
                         write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        line = world.create("line", deal=deal["id"], quantity="2", price="5")
        assert line["total"] == "10.00"
        assert line["note"] == "total was 10.00"


def test_unloading_a_pack_removes_its_interceptor(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        world.host.sync([])
        deal = world.create("deal", title="Big")
        line = world.create("line", deal=deal["id"], quantity="2", price="5")
        assert line["total"] is None


def test_screen_form_posts_go_through_the_interceptors(isolated_database_url: str,
                                                       tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("totals")) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        deal = world.create("deal", title="Big")
        browser = sign_in(world, "ann")
        token = CSRF.search(browser.get("/app/").get_data(as_text=True))
        assert token
        response = browser.post("/app/r/line/new", data={
            "csrf_token": token.group(1), "deal": deal["id"], "quantity": "2", "price": "4"})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        listed = world.client.get("/api/v1/records/line", headers=world.clerk).get_json()
        assert [line["total"] for line in listed["data"]] == ["8.00"]
        refused = browser.post("/app/r/line/new", data={
            "csrf_token": token.group(1), "deal": deal["id"], "quantity": "500"})
        assert refused.status_code == 422
        assert "at most 100 per line" in refused.get_data(as_text=True)


def test_automation_writes_go_through_the_interceptors(isolated_database_url: str,
                                                       tmp_path: Path) -> None:
    trigger = {
        "kind": "trigger", "name": "first_line", "version": 1,
        "label": {"en": "First line", "ru": "Первая позиция"}, "entity": "deal",
        "event": "created", "mode": "sync",
        "actions": [{"type": "create_record", "params": {
            "entity": "line",
            "values": {"deal": {"template": "{{ record.id }}"}, "quantity": "3",
                       "price": "7"}}}],
    }
    with open_world(isolated_database_url, tmp_path, pack_role("totals"), trigger) as world:
        world.host.sync([write_pack(tmp_path, "totals", TOTALS)])
        world.create("deal", title="Big")
        listed = world.client.get("/api/v1/records/line", headers=world.clerk).get_json()
        assert [line["total"] for line in listed["data"]] == ["21.00"]
