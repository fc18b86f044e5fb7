"""`TeamDirectory.subject` reuses a user's teams for a few seconds: changes made through the
directory apply at once, changes made behind its back once the TTL has passed."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from metacrm.access.teams import TeamDirectory
from metacrm.storage.system_tables import team_members


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool = False


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


ANNA = Actor("anna", "Anna", ("rep",))


def directory_with_team(engine: sa.Engine, clock: FakeClock) -> TeamDirectory:
    directory = TeamDirectory(engine, cache_ttl=5.0, clock=clock)
    directory.initialize()
    with engine.begin() as conn:
        directory.create_team(conn, "east")
        directory.create_team(conn, "west")
        directory.add_member(conn, "east", "anna")
    return directory


def test_memberships_changed_elsewhere_apply_after_the_ttl(engine: sa.Engine) -> None:
    clock = FakeClock()
    teams = directory_with_team(engine, clock)
    assert teams.subject(ANNA).team_ids == ("east",)

    with engine.begin() as conn:  # as another process would
        conn.execute(team_members.insert().values(team="west", user_id="anna"))
    assert teams.subject(ANNA).team_ids == ("east",)  # cached, within the TTL
    clock.now += 5.0

    subject = teams.subject(ANNA)
    assert (subject.team_ids, subject.team_user_ids) == (("east", "west"), ("anna",))


def test_changes_through_the_directory_apply_at_once(engine: sa.Engine) -> None:
    clock = FakeClock()
    teams = directory_with_team(engine, clock)
    assert teams.subject(ANNA).team_ids == ("east",)

    with engine.begin() as conn:
        teams.add_member(conn, "west", "bob")
        teams.move_team(conn, "west", "east")

    subject = teams.subject(ANNA)
    assert (subject.team_ids, subject.team_user_ids) == (("east", "west"), ("anna", "bob"))
    with engine.begin() as conn:
        teams.remove_member(conn, "east", "anna")
    assert teams.subject(ANNA).team_ids == ()


def test_subject_for_always_reads_the_tables(engine: sa.Engine) -> None:
    clock = FakeClock()
    teams = directory_with_team(engine, clock)
    teams.subject(ANNA)

    with engine.begin() as conn:
        conn.execute(team_members.insert().values(team="west", user_id="anna"))
        assert teams.subject_for(conn, ANNA).team_ids == ("east", "west")
