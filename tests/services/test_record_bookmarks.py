"""Recent records and favourites: kept per user, the recent list pruned to the newest ten,
reopening moves a record to the front, and a record that is no longer readable is not
shown (though its pointer is kept)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from records_world import World

from metacrm.services.users.bookmarks import RECENT_KEPT, RecordBookmarks
from metacrm.storage.system_tables import recent_records


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    yield World(engine)


def stored_rows(world: World, user: str) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(recent_records)
                                .where(recent_records.c.user_id == user)).scalar_one())


def test_the_recent_list_keeps_the_newest_ten_and_reopening_moves_to_the_front(
        world: World) -> None:
    rep = world.subject("rep1")
    deals = [world.records.create(rep, "deal", {"title": f"T{i}"})["id"] for i in range(12)]
    bookmarks = RecordBookmarks(world.records, clock=Clock())
    for record_id in deals:
        bookmarks.opened(rep, "deal", record_id)
    bookmarks.opened(rep, "deal", deals[3])  # still listed: moves to the front

    titles = [b.record["title"] for b in bookmarks.recent(rep)]

    assert titles == ["T3", "T11", "T10", "T9", "T8", "T7", "T6", "T5", "T4", "T2"]
    assert stored_rows(world, "rep1") == RECENT_KEPT
    bookmarks.opened(rep, "deal", deals[0])  # pruned before: back in, the oldest goes
    assert [b.record["title"] for b in bookmarks.recent(rep)] == [
        "T0", "T3", "T11", "T10", "T9", "T8", "T7", "T6", "T5", "T4"]
    assert stored_rows(world, "rep1") == RECENT_KEPT
    assert bookmarks.recent(world.subject("rep2")) == []  # per user


def test_a_record_no_longer_readable_leaves_both_lists(world: World) -> None:
    rep = world.subject("rep1")
    kept = world.records.create(rep, "deal", {"title": "Kept"})["id"]
    moved = world.records.create(rep, "deal", {"title": "Moved"})["id"]
    bookmarks = RecordBookmarks(world.records, clock=Clock())
    for record_id in (kept, moved):
        bookmarks.opened(rep, "deal", record_id)
        bookmarks.star(rep, "deal", record_id, starred=True)
    assert bookmarks.starred(rep, "deal", moved)

    world.records.update(world.admin, "deal", moved, {"owner": "rep3"})

    assert [b.record["title"] for b in bookmarks.recent(rep)] == ["Kept"]
    assert [b.record["title"] for b in bookmarks.favourites(rep)] == ["Kept"]
    world.records.update(world.admin, "deal", moved, {"owner": "rep1"})  # readable again
    assert [b.record["title"] for b in bookmarks.favourites(rep)] == ["Moved", "Kept"]
    bookmarks.star(rep, "deal", moved, starred=False)
    assert [b.record["title"] for b in bookmarks.favourites(rep)] == ["Kept"]
    assert not bookmarks.starred(rep, "deal", moved)
    bookmarks.star(rep, "deal", kept, starred=True)  # starring twice keeps one star
    assert len(bookmarks.favourites(rep)) == 1
