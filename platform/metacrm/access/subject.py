"""Who is asking, as the access policy needs to know it.

An `AccessSubject` is built once per request (`TeamDirectory.subject_for`) from the
authenticated actor: their role names, their teams (with every sub-team) and the members of
those teams, so that the `team` scope is one `owner IN (...)` condition and no query on the
team tables runs per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from metacrm.criteria.context import CriteriaContext


class ActorLike(Protocol):
    """What the access layer reads of an authenticated actor (`metacrm.identity.actor.Actor`
    fits); a protocol so that access does not depend on the identity provider."""

    @property
    def user_id(self) -> str: ...

    @property
    def username(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AccessSubject:
    """A user as the access policy sees them.

    `team_ids`: the user's teams and all their sub-teams (the values of `$team`);
    `team_user_ids`: the members of those teams — the owners the `team` scope covers.
    `is_admin` reports what the identity layer found; the policy itself decides admin
    rights from the roles' `admin` flag in the live metadata (see access/README.md).
    `user_id` None stands for nobody in particular (no record is "own").
    """

    user_id: str | None
    username: str
    roles: tuple[str, ...]
    team_ids: tuple[str, ...] = ()
    team_user_ids: tuple[str, ...] = ()
    is_admin: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "team_ids", tuple(self.team_ids))
        object.__setattr__(self, "team_user_ids", tuple(self.team_user_ids))

    def criteria_context(self, now: datetime | None = None) -> CriteriaContext:
        """The values of `$user` and `$team` (and `$now`) for this subject."""
        if now is None:
            return CriteriaContext(self.user_id, self.team_ids)
        return CriteriaContext(self.user_id, self.team_ids, now)

    def owners_in_team(self) -> tuple[str, ...]:
        """Owners the `team` scope covers: the team members, and the user themself (a team
        scope never sees less than an own scope)."""
        if self.user_id is None or self.user_id in self.team_user_ids:
            return self.team_user_ids
        return (*self.team_user_ids, self.user_id)

    def to_json(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "username": self.username,
            "roles": list(self.roles),
            "teams": list(self.team_ids),
        }
