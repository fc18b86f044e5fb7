"""Teams: a hierarchy of named groups of users, behind the `team` access scope.

A user belongs to any number of teams; a team may have a parent team. The `team` scope of a
user covers the records owned by members of their teams *and of every sub-team* — a sales
director in "sales" sees what the reps of "sales_east" own. Teams are few, so the hierarchy
is read whole and walked in Python: two small queries per request, none per record.

The hierarchy cannot loop: a parent must exist before its child is created, and moving a
team under one of its own descendants is refused.

`subject` (the per-request path) reuses a user's teams and team members for
`IDENTITY_CACHE_TTL` seconds per directory (per process). Every change made through this
directory forgets them at once; one made by another process takes effect within the TTL.
`subject_for` always reads the tables (it sees the caller's own uncommitted changes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject, ActorLike
from metacrm.identity.ttl_cache import Clock, TtlCache
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from metacrm.storage.system_tables import (
    NAME_LENGTH,
    USER_ID_LENGTH,
    create_system_tables,
    team_members,
    teams,
)

TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
LABEL_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    label: str | None
    parent: str | None


def _check_name(name: object, pointer: str) -> str:
    if (not isinstance(name, str) or not TEAM_NAME.match(name) or len(name) > NAME_LENGTH
            or name != name.strip()):
        raise ValidationFailed("invalid team name", [ErrorDetail(
            f"a team name is 1 to {NAME_LENGTH} letters, digits, spaces, '_', '-' or '.', "
            "starting with a letter or digit", pointer)])
    return name


def _check_user(user_id: object) -> str:
    if (not isinstance(user_id, str) or not user_id.strip() or len(user_id) > USER_ID_LENGTH
            or "\x00" in user_id):
        raise ValidationFailed("invalid user id", [ErrorDetail(
            f"must be a user id of 1 to {USER_ID_LENGTH} characters", "/user_id")])
    return user_id


def descendants(children: dict[str, list[str]], roots: Iterable[str]) -> list[str]:
    """`roots` and every team below them, each once, roots first."""
    seen: dict[str, None] = {}
    queue = list(roots)
    while queue:
        team = queue.pop(0)
        if team in seen:
            continue
        seen[team] = None
        queue.extend(children.get(team, ()))
    return list(seen)


class TeamDirectory:
    """Teams, their hierarchy and members; builds the `AccessSubject` of an actor."""

    def __init__(
        self, engine: sa.Engine, *, cache_ttl: float | None = None, clock: Clock | None = None
    ) -> None:
        """`cache_ttl` (seconds; default `IDENTITY_CACHE_TTL`, 0 turns caching off) and
        `clock` (monotonic seconds) govern how long `subject` reuses a user's teams."""
        self.engine = engine
        self._team_parts: TtlCache[str, tuple[tuple[str, ...], tuple[str, ...]]] = (
            TtlCache(cache_ttl) if clock is None else TtlCache(cache_ttl, clock=clock)
        )

    def forget_cached_teams(self) -> None:
        """Forget every cached team part (called by every change made through here)."""
        self._team_parts.clear()

    def initialize(self) -> None:
        """Create the team tables (with the other system tables) when missing; idempotent."""
        with self.engine.begin() as connection:
            create_system_tables(connection)

    # --- teams ---------------------------------------------------------------------------

    def create_team(
        self, conn: sa.Connection, name: str, *, parent: str | None = None,
        label: str | None = None,
    ) -> Team:
        """Create a team (under `parent`); Conflict when the name is taken."""
        _check_name(name, "/name")
        if parent is not None:
            _check_name(parent, "/parent")
            if self._team(conn, parent) is None:
                raise ValidationFailed("unknown parent team", [
                    ErrorDetail(f"there is no team {parent!r}", "/parent")])
        if label is not None and (not isinstance(label, str) or len(label) > LABEL_LENGTH):
            raise ValidationFailed("invalid team label", [
                ErrorDetail(f"must be text of at most {LABEL_LENGTH} characters", "/label")])
        if self._team(conn, name) is not None:
            raise Conflict("team exists", [ErrorDetail(f"team {name!r} already exists",
                                                       "/name")])
        self.forget_cached_teams()
        conn.execute(teams.insert().values(name=name, label=label, parent=parent,
                                           created_at=datetime.now(UTC)))
        return Team(name, label, parent)

    def move_team(self, conn: sa.Connection, name: str, parent: str | None) -> Team:
        """Put a team under another one (None: make it a top team); loops are refused."""
        team = self._require(conn, name)
        if parent is not None:
            self._require(conn, parent, pointer="/parent")
            if parent in descendants(self._children(conn), [name]):
                raise ValidationFailed("team loop", [ErrorDetail(
                    f"{parent!r} is {name!r} or one of its sub-teams", "/parent")])
        self.forget_cached_teams()
        conn.execute(sa.update(teams).where(teams.c.name == name).values(parent=parent))
        return Team(team.name, team.label, parent)

    def delete_team(self, conn: sa.Connection, name: str) -> None:
        """Delete a team and its memberships; refused while it has sub-teams."""
        self._require(conn, name)
        if conn.execute(sa.select(teams.c.name).where(teams.c.parent == name).limit(1)).first():
            raise Conflict("team has sub-teams", [ErrorDetail(
                f"move or delete the sub-teams of {name!r} first", "/name")])
        self.forget_cached_teams()
        conn.execute(sa.delete(team_members).where(team_members.c.team == name))
        conn.execute(sa.delete(teams).where(teams.c.name == name))

    def list_teams(self, conn: sa.Connection) -> list[Team]:
        rows = conn.execute(sa.select(teams.c.name, teams.c.label, teams.c.parent)
                            .order_by(teams.c.name))
        return [Team(row.name, row.label, row.parent) for row in rows]

    def _team(self, conn: sa.Connection, name: str) -> Team | None:
        row = conn.execute(sa.select(teams.c.name, teams.c.label, teams.c.parent)
                           .where(teams.c.name == name)).first()
        return None if row is None else Team(row.name, row.label, row.parent)

    def _require(self, conn: sa.Connection, name: str, *, pointer: str = "/team") -> Team:
        team = self._team(conn, name) if isinstance(name, str) else None
        if team is None:
            raise NotFound(f"there is no team {name!r}", [ErrorDetail("no such team", pointer)])
        return team

    def _children(self, conn: sa.Connection) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for row in conn.execute(sa.select(teams.c.name, teams.c.parent)
                                .where(teams.c.parent.is_not(None))):
            children.setdefault(row.parent, []).append(row.name)
        return children

    # --- members -------------------------------------------------------------------------

    def add_member(self, conn: sa.Connection, team: str, user_id: str) -> None:
        """Put a user in a team (nothing happens when they already are)."""
        self._require(conn, team)
        _check_user(user_id)
        exists = conn.execute(sa.select(team_members.c.team).where(
            team_members.c.team == team, team_members.c.user_id == user_id)).first()
        if exists is None:
            self.forget_cached_teams()
            conn.execute(team_members.insert().values(team=team, user_id=user_id))

    def remove_member(self, conn: sa.Connection, team: str, user_id: str) -> None:
        """Take a user out of a team (nothing happens when they are not in it)."""
        self.forget_cached_teams()
        conn.execute(sa.delete(team_members).where(
            team_members.c.team == team, team_members.c.user_id == user_id))

    def direct_teams_of(self, conn: sa.Connection, user_id: str) -> tuple[str, ...]:
        """The teams the user is a member of, without sub-teams."""
        return tuple(conn.execute(
            sa.select(team_members.c.team).where(team_members.c.user_id == user_id)
            .order_by(team_members.c.team)
        ).scalars())

    def teams_of(self, conn: sa.Connection, user_id: str | None) -> tuple[str, ...]:
        """The user's teams and every sub-team of them (sorted)."""
        if user_id is None:
            return ()
        direct = self.direct_teams_of(conn, user_id)
        if not direct:
            return ()
        return tuple(sorted(descendants(self._children(conn), direct)))

    def members_of(self, conn: sa.Connection, team_ids: Sequence[str]) -> tuple[str, ...]:
        """The members of the given teams (sorted, each once)."""
        if not team_ids:
            return ()
        return tuple(conn.execute(
            sa.select(team_members.c.user_id).where(team_members.c.team.in_(list(team_ids)))
            .distinct().order_by(team_members.c.user_id)
        ).scalars())

    # --- subjects ------------------------------------------------------------------------

    def subject_for(self, conn: sa.Connection, actor: ActorLike) -> AccessSubject:
        """The access subject of an authenticated actor: roles, teams, team members."""
        return _subject(actor, self._team_part(conn, actor.user_id))

    def subject(
        self, actor: ActorLike, *, connection: sa.Connection | None = None
    ) -> AccessSubject:
        """`subject_for`, with the user's teams and team members reused for the cache TTL;
        read on `connection` (which should hold no uncommitted team changes) or, when
        none is given, on a connection of its own only when they are not cached."""
        key = actor.user_id
        part = self._team_parts.get(key) if key is not None else None
        if part is None:
            if connection is not None:
                part = self._team_part(connection, key)
            else:
                with self.engine.connect() as conn:
                    part = self._team_part(conn, key)
            if key is not None:
                self._team_parts.put(key, part)
        return _subject(actor, part)

    def _team_part(
        self, conn: sa.Connection, user_id: str | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        team_ids = self.teams_of(conn, user_id)
        return team_ids, self.members_of(conn, team_ids)


def _subject(actor: ActorLike, team_part: tuple[tuple[str, ...], tuple[str, ...]]) -> AccessSubject:
    team_ids, team_user_ids = team_part
    return AccessSubject(
        user_id=actor.user_id,
        username=actor.username,
        roles=tuple(actor.roles),
        team_ids=team_ids,
        team_user_ids=team_user_ids,
        is_admin=actor.is_admin,
    )
