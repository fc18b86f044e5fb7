"""The demo users and teams: created through the same identity functions as
`metacrm user create` and `metacrm team create`; what exists already is left unchanged, so a
load that failed after this step can simply run again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metacrm.access.teams import TeamDirectory
from metacrm.identity.users import create_user
from metacrm.metadata.model import CompiledModel
from metacrm.seeding.dataset import DemoData


@dataclass(frozen=True, slots=True)
class Accounts:
    user_ids: dict[str, str]
    """Every demo user's id (the text form records store as owner), by username."""
    created: tuple[str, ...]
    """The usernames created by this load (the others existed)."""


def ensure_accounts(appbuilder: Any, model: CompiledModel, directory: TeamDirectory,
                    data: DemoData) -> Accounts:
    """Create the missing teams and users and put the users in their teams. Call inside
    the app's application context (Flask-AppBuilder owns users and password hashing)."""
    engine = directory.engine
    with engine.begin() as connection:
        known = {team.name for team in directory.list_teams(connection)}
        for team in data.teams:
            if team.name not in known:
                directory.create_team(connection, team.name, parent=team.parent,
                                      label=team.label)
    sm = appbuilder.sm
    user_ids: dict[str, str] = {}
    created: list[str] = []
    for user in data.users:
        existing = sm.find_user(username=user.username)
        if existing is not None:
            user_ids[user.username] = str(existing.id)
            sm.session.commit()  # end the read: on SQLite it would hold a lock
            continue
        new = create_user(appbuilder, model, username=user.username, role=user.role,
                          password=data.password, email=user.email)
        user_ids[user.username] = str(new.id)
        created.append(user.username)
    with engine.begin() as connection:
        for user in data.users:
            for team_name in user.teams:
                directory.add_member(connection, team_name, user_ids[user.username])
    return Accounts(user_ids, tuple(created))
