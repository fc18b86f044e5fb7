"""The user directory backed by Flask-AppBuilder's tables, read with SQLAlchemy Core.

Authenticating an API request needs a user's name, whether they are active and their role
names (direct and through groups). One Core query answers that, instead of loading FAB's
ORM user and lazily loading its roles and groups one query at a time.

`FabUserDirectory` is the FAB adapter of the `kernel.users.UserDirectory` port. Only the
web composition and the process entry points that build services import this module (it
loads Flask-AppBuilder); everything else depends on the port.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder.security.sqla.models import (
    Role,
    User,
    assoc_group_role,
    assoc_user_group,
    assoc_user_role,
)

from metacrm.kernel.users import (
    LISTING_LIMIT,
    UserIdentity,
    UserListing,
    user_number,
    user_numbers,
)

__all__ = ["FabUserDirectory", "UserIdentity", "UserListing", "find_user_id",
           "load_user_identity", "user_email", "user_listings"]

_users: sa.Table = User.__table__
_roles: sa.Table = Role.__table__


def _role_names_by_user() -> sa.Subquery:
    direct = sa.select(assoc_user_role.c.user_id, _roles.c.name).join(
        _roles, _roles.c.id == assoc_user_role.c.role_id
    )
    via_groups = (
        sa.select(assoc_user_group.c.user_id, _roles.c.name)
        .join(assoc_group_role, assoc_group_role.c.group_id == assoc_user_group.c.group_id)
        .join(_roles, _roles.c.id == assoc_group_role.c.role_id)
    )
    return sa.union(direct, via_groups).subquery("user_roles")


def load_user_identity(connection: sa.Connection, user_id: int) -> UserIdentity | None:
    """The user with this id and their role names (sorted), or None when there is none."""
    roles = _role_names_by_user()
    rows = connection.execute(
        sa.select(_users.c.id, _users.c.username, _users.c.active, roles.c.name)
        .select_from(_users.outerjoin(roles, roles.c.user_id == _users.c.id))
        .where(_users.c.id == user_id)
    ).all()
    if not rows:
        return None
    first = rows[0]
    names = sorted({row.name for row in rows if row.name is not None})
    return UserIdentity(
        id=int(first.id),
        username=str(first.username),
        active=bool(first.active),
        roles=tuple(names),
    )


def find_user_id(connection: sa.Connection, username: str) -> int | None:
    """The id of the user with this login name (case-insensitive, as FAB's login is)."""
    found = connection.execute(
        sa.select(_users.c.id).where(sa.func.lower(_users.c.username) == username.lower())
    ).scalar()
    return int(found) if found is not None else None


def user_email(connection: sa.Connection, user_id: str) -> str | None:
    """The email address of the user with this id (record tables' text form), or None when
    there is no such user, they are deactivated, or the user tables do not exist here."""
    number = user_number(user_id)
    if number is None:
        return None
    if not sa.inspect(connection).has_table(_users.name):
        return None  # asked before the web app ever created FAB's tables: nobody has an email
    row = connection.execute(
        sa.select(_users.c.email, _users.c.active).where(_users.c.id == number)
    ).first()
    if row is None or not row.active or not row.email:
        return None
    return str(row.email)


def user_listings(connection: sa.Connection, *, ids: set[str] | None = None,
                  active_only: bool = False, search: str | None = None,
                  limit: int = LISTING_LIMIT) -> list[UserListing]:
    """Users by id (or all, or those whose name matches `search`), for owner columns and
    user pickers; ids that are not user ids are ignored."""
    query = sa.select(_users.c.id, _users.c.username, _users.c.first_name, _users.c.last_name)
    if ids is not None:
        numbers = user_numbers(ids)
        if not numbers:
            return []
        query = query.where(_users.c.id.in_(numbers))
    if active_only:
        query = query.where(_users.c.active.is_(True))
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(sa.or_(
            sa.func.lower(_users.c.username).like(pattern),
            sa.func.lower(_users.c.first_name).like(pattern),
            sa.func.lower(_users.c.last_name).like(pattern)))
    rows = connection.execute(query.order_by(_users.c.username).limit(limit)).all()
    return [UserListing(str(row.id), str(row.username),
                        " ".join(part for part in (row.first_name, row.last_name) if part)
                        or str(row.username))
            for row in rows]


class FabUserDirectory:
    """`UserDirectory` over Flask-AppBuilder's user, role and group tables."""

    def load(self, conn: sa.Connection, user_id: int) -> UserIdentity | None:
        return load_user_identity(conn, user_id)

    def find_id(self, conn: sa.Connection, username: str) -> int | None:
        return find_user_id(conn, username)

    def email_of(self, conn: sa.Connection, user_id: str) -> str | None:
        return user_email(conn, user_id)

    def listings(
        self, conn: sa.Connection, *, ids: set[str] | None = None, active_only: bool = False,
        search: str | None = None, limit: int = LISTING_LIMIT,
    ) -> list[UserListing]:
        return user_listings(conn, ids=ids, active_only=active_only, search=search,
                             limit=limit)
