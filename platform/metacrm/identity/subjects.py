"""The access subject of any user by id, for work done on a user's behalf outside a request.

A webhook is delivered with its owner's access (field security, row scope), long after the
owner's last request: `SubjectDirectory.subject_of(user_id)` builds the same `AccessSubject`
a request of theirs would get — roles from Flask-AppBuilder's tables, the admin flag from
the live metadata's admin roles, teams from the team directory. The user (roles included) is
reused for `IDENTITY_CACHE_TTL` seconds like the request path's user cache, and so are their
teams (`TeamDirectory.subject`); changes made in this process take effect at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.access.teams import TeamDirectory
from metacrm.identity.actor import Actor
from metacrm.identity.user_cache import UserCache
from metacrm.kernel.users import UserDirectory, UserIdentity, user_number
from metacrm.services.metadata.service import MetadataService


class SubjectDirectory:
    """Access subjects of users by user id (the text form record tables store)."""

    def __init__(
        self, engine: sa.Engine, metadata: MetadataService, teams: TeamDirectory,
        users: UserDirectory, *, cache_ttl: float | None = None,
    ) -> None:
        """`users`: the identity provider's users (the composition picks the adapter);
        `cache_ttl`: seconds a loaded user is reused (default IDENTITY_CACHE_TTL; 0 off)."""
        self.engine = engine
        self.users = users
        self.metadata = metadata
        self.teams = teams
        self._users = UserCache(cache_ttl)

    def subject_of(self, user_id: str) -> AccessSubject | None:
        """The subject of the user with this id; None when there is no such user or they
        are deactivated (nothing is done on behalf of a deactivated user)."""
        number = user_number(user_id)
        if number is None:
            return None
        identity = self._users.get_or_load(number, lambda: self._load(number))
        if identity is None or not identity.active:
            return None
        roles = self.metadata.live().model.roles
        actor = Actor(
            user_id=str(identity.id),
            username=identity.username,
            roles=identity.roles,
            is_admin=any(name in roles and roles[name].admin for name in identity.roles),
        )
        return self.teams.subject(actor)

    def forget(self) -> None:
        """Forget the cached users (tests; changes made behind FAB's back)."""
        self._users.clear()

    def _load(self, number: int) -> UserIdentity | None:
        with self.engine.connect() as connection:
            return self.users.load(connection, number)
