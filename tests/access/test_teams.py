"""Teams: a hierarchy whose `team` scope reaches into every sub-team."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from metacrm.access.teams import TeamDirectory
from metacrm.kernel.errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class Actor:
    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool = False


@pytest.fixture
def teams(engine: sa.Engine) -> Iterator[TeamDirectory]:
    directory = TeamDirectory(engine)
    directory.initialize()
    directory.initialize()  # idempotent
    with engine.begin() as conn:
        directory.create_team(conn, "sales", label="Sales")
        directory.create_team(conn, "east", parent="sales")
        directory.create_team(conn, "east_city", parent="east")
        directory.create_team(conn, "west", parent="sales")
        directory.create_team(conn, "support")
        for team, user in (("sales", "director"), ("east", "anna"), ("east_city", "boris"),
                           ("west", "vera"), ("support", "gleb"), ("east", "gleb")):
            directory.add_member(conn, team, user)
    yield directory


def test_team_scope_covers_sub_teams_but_not_parents_or_siblings(
    teams: TeamDirectory, engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        assert teams.teams_of(conn, "director") == ("east", "east_city", "sales", "west")
        assert teams.teams_of(conn, "anna") == ("east", "east_city")
        assert teams.teams_of(conn, "boris") == ("east_city",)
        assert teams.teams_of(conn, "gleb") == ("east", "east_city", "support")
        assert teams.teams_of(conn, "nobody") == ()
        assert teams.members_of(conn, teams.teams_of(conn, "anna")) == ("anna", "boris",
                                                                        "gleb")
        subject = teams.subject_for(conn, Actor("vera", "Vera", ("rep",)))
    assert (subject.team_ids, subject.team_user_ids, subject.roles) == (
        ("west",), ("vera",), ("rep",))
    assert teams.subject(Actor("director", "d", ())).team_user_ids == (
        "anna", "boris", "director", "gleb", "vera")


def test_memberships_change_at_once(teams: TeamDirectory, engine: sa.Engine) -> None:
    with engine.begin() as conn:
        teams.add_member(conn, "west", "boris")
        teams.add_member(conn, "west", "boris")  # nothing happens the second time
        teams.remove_member(conn, "east_city", "boris")
    with engine.connect() as conn:
        assert teams.teams_of(conn, "boris") == ("west",)
        assert teams.direct_teams_of(conn, "gleb") == ("east", "support")


def test_the_hierarchy_cannot_loop_and_names_are_checked(
    teams: TeamDirectory, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValidationFailed) as loop:
            teams.move_team(conn, "sales", "east_city")
        assert loop.value.errors[0].pointer == "/parent"
        with pytest.raises(Conflict):
            teams.create_team(conn, "east")
        with pytest.raises(ValidationFailed):
            teams.create_team(conn, "orphan", parent="missing")
        with pytest.raises(ValidationFailed):
            teams.create_team(conn, " bad name")
        with pytest.raises(NotFound):
            teams.add_member(conn, "missing", "anna")
        with pytest.raises(Conflict):
            teams.delete_team(conn, "east")  # it has a sub-team
        teams.move_team(conn, "east_city", "west")
        teams.delete_team(conn, "east")
    with engine.connect() as conn:
        assert teams.teams_of(conn, "anna") == ()
        assert teams.teams_of(conn, "vera") == ("east_city", "west")
        assert [t.name for t in teams.list_teams(conn)] == ["east_city", "sales", "support",
                                                           "west"]
