"""The port of the user directory: who a user id is, their roles and their email address.

Users live in the identity provider's tables (Flask-AppBuilder's `ab_*`, read by
`metacrm.identity.fab_directory`). Automation (the owner's email), webhooks (telling a
subscription's owner, acting with their rights) and the composition root need those facts
but must not import the provider: importing the CLI, a worker's consumers or an extension
would otherwise load Flask-AppBuilder. They depend on this `UserDirectory` protocol instead;
the process's composition picks the adapter. `kernel.users_memory.InMemoryUserDirectory` is
the second adapter (tests, extensions' own tests); `tests/kernel/test_user_directory.py`
runs one contract over both.

Every lookup takes the caller's database connection (a SQLAlchemy `Connection`; the kernel
names no database library), so it runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

Connection = Any
"""The caller's database connection (adapters that keep users in memory ignore it)."""

MAX_USER_ID_DIGITS = 18
"""Longer digit strings are no user id (and would overflow a BIGINT)."""

LISTING_LIMIT = 200


@dataclass(frozen=True)
class UserIdentity:
    """A user as authentication needs it: role names sorted, direct and through groups."""

    id: int
    username: str
    active: bool
    roles: tuple[str, ...]


@dataclass(frozen=True)
class UserListing:
    """A user as screens show them: id (record tables' text form) and display name."""

    id: str
    username: str
    name: str


def user_number(user_id: object) -> int | None:
    """The numeric id a record table's text user id names, or None when it names none."""
    if (not isinstance(user_id, str) or not user_id.isascii() or not user_id.isdigit()
            or len(user_id) > MAX_USER_ID_DIGITS):
        return None
    return int(user_id)


def user_numbers(ids: Iterable[object]) -> set[int]:
    """The numeric ids among `ids` (others ignored)."""
    return {number for value in ids if (number := user_number(value)) is not None}


class UserDirectory(Protocol):
    """Users of the identity provider, read-only."""

    def load(self, conn: Connection, user_id: int) -> UserIdentity | None:
        """The user with this id and their role names, or None when there is none."""
        ...

    def find_id(self, conn: Connection, username: str) -> int | None:
        """The id of the user with this login name (case-insensitive), or None."""
        ...

    def email_of(self, conn: Connection, user_id: str) -> str | None:
        """The email address of the user with this id (record tables' text form); None
        when there is no such user, they are deactivated or have no address."""
        ...

    def listings(
        self, conn: Connection, *, ids: set[str] | None = None, active_only: bool = False,
        search: str | None = None, limit: int = LISTING_LIMIT,
    ) -> list[UserListing]:
        """Users by id (or all, or those whose login or name contains `search`, ignoring
        case), ordered by login name, at most `limit`; ids that are no user ids are
        ignored."""
        ...
