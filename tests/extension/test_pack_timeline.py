"""Packs' timeline sources: a pack's entries join a record's timeline — in the API and on
the record page — merged in order, paged, filtered by the kinds it declares; a broken or
careless provider never breaks the timeline; uninstalling the pack takes them away."""

from __future__ import annotations

from pathlib import Path

from pack_harness import open_world, sign_in, write_pack

SOURCE = '''
from datetime import datetime, timedelta, timezone

from metacrm.extension import TimelineItem

BASE = datetime(2020, 1, 1, tzinfo=timezone.utc)

def install(ctx):
    def emails(query):
        items = [TimelineItem("email", BASE + timedelta(days=day), f"m{day}",
                              f"Mail {day} to {query.viewer.username}",
                              url="javascript:alert(1)" if day == 2 else f"/mail/{day}")
                 for day in range(5)]
        if query.before is not None:
            items = [i for i in items if (i.at, i.key) < query.before]
        items.append(TimelineItem("fax", BASE, "x", "not declared"))
        items.append(TimelineItem("email", BASE.replace(tzinfo=None), "naive", "naive"))
        return items
    ctx.timeline_source("mail", ["email"], emails)
'''

BROKEN = '''
def install(ctx):
    def fails(query):
        raise RuntimeError("boom")
    ctx.timeline_source("broken", ["sms"], fails)
'''


def test_pack_entries_join_the_timeline(isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "mailer", SOURCE),
                         write_pack(tmp_path, "broken", BROKEN)])
        deal = world.create("deal", title="Big")
        url = f"/api/v1/records/deal/{deal['id']}/timeline"

        page = world.client.get(url, headers=world.clerk).get_json()
        assert {"email", "sms", "change"} <= set(page["kinds"])
        kinds = [e["kind"] for e in page["data"]]
        assert kinds == ["change", "email", "email", "email", "email", "email"]
        first = page["data"][1]
        assert (first["id"], first["pack"], first["title"]) == ("mailer:m4", "mailer",
                                                                "Mail 4 to ann")
        assert page["data"][3]["url"] == ""  # javascript: is not a link

        paged, query = [], "?kind=email&limit=2"
        while True:
            answer = world.client.get(url + query, headers=world.clerk).get_json()
            paged += [e["id"] for e in answer["data"]]
            if answer["next_cursor"] is None:
                break
            query = f"?kind=email&limit=2&cursor={answer['next_cursor']}"
        assert paged == [f"mailer:m{day}" for day in (4, 3, 2, 1, 0)]

        html = sign_in(world, "ann").get(f"/app/r/deal/{deal['id']}").get_data(as_text=True)
        assert '<a href="/mail/4" data-timeline-record>Mail 4 to ann</a>' in html
        assert "javascript:" not in html

        world.host.sync([])
        page = world.client.get(url, headers=world.clerk).get_json()
        assert "email" not in page["kinds"]
