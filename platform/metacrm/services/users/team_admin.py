"""What the teams admin screen needs besides `access.teams.TeamDirectory`: a team's display
name changed, and every team's members read at once.

A team's `name` is its key (memberships and sub-teams point at it), so "renaming" a team on
the screen changes its label; everything else (create, move, delete, members) is the
directory's own. No access decision is made here: the screen is for administrators only.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.access.teams import LABEL_LENGTH, Team
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.storage.system_tables import team_members, teams


def relabel_team(conn: sa.Connection, name: str, label: str | None) -> Team:
    """Set the display name of team `name` (None or blank: show its name)."""
    if label is not None and (not isinstance(label, str) or len(label) > LABEL_LENGTH):
        raise ValidationFailed("invalid team label", [
            ErrorDetail(f"must be text of at most {LABEL_LENGTH} characters", "/label")])
    label = (label.strip() or None) if label is not None else None
    row = conn.execute(sa.select(teams.c.parent).where(teams.c.name == name)).first()
    if row is None:
        raise NotFound(f"there is no team {name!r}", [ErrorDetail("no such team", "/team")])
    conn.execute(sa.update(teams).where(teams.c.name == name).values(label=label))
    return Team(name, label, row.parent)


def memberships(conn: sa.Connection) -> dict[str, tuple[str, ...]]:
    """`{team name: (user id, ...)}` of every team with members (direct members only)."""
    found: dict[str, list[str]] = {}
    rows = conn.execute(sa.select(team_members.c.team, team_members.c.user_id)
                        .order_by(team_members.c.team, team_members.c.user_id))
    for row in rows:
        found.setdefault(row.team, []).append(row.user_id)
    return {team: tuple(users) for team, users in found.items()}
