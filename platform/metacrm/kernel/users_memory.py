"""An in-memory `UserDirectory`: the user directory without an identity provider.

For tests (and extension packs' tests) that need users — an owner's email, a webhook
owner's roles — without Flask-AppBuilder's tables. It answers exactly as the FAB-backed
adapter does (`tests/kernel/test_user_directory.py` runs the same contract over both).
"""

from __future__ import annotations

from dataclasses import dataclass

from metacrm.kernel.users import (
    LISTING_LIMIT,
    Connection,
    UserIdentity,
    UserListing,
    user_number,
    user_numbers,
)


@dataclass(frozen=True)
class StoredUser:
    """One user of the in-memory directory."""

    id: int
    username: str
    email: str | None = None
    active: bool = True
    roles: tuple[str, ...] = ()
    first_name: str = ""
    last_name: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) \
            or self.username


class InMemoryUserDirectory:
    """Users kept in a dict by id; `add` them, then read them through the port."""

    def __init__(self) -> None:
        self._users: dict[int, StoredUser] = {}

    def add(self, user: StoredUser) -> StoredUser:
        self._users[user.id] = user
        return user

    def load(self, conn: Connection, user_id: int) -> UserIdentity | None:
        user = self._users.get(user_id)
        if user is None:
            return None
        return UserIdentity(user.id, user.username, user.active, tuple(sorted(set(user.roles))))

    def find_id(self, conn: Connection, username: str) -> int | None:
        wanted = username.lower()
        return next((u.id for u in self._users.values() if u.username.lower() == wanted), None)

    def email_of(self, conn: Connection, user_id: str) -> str | None:
        number = user_number(user_id)
        user = None if number is None else self._users.get(number)
        if user is None or not user.active or not user.email:
            return None
        return user.email

    def listings(
        self, conn: Connection, *, ids: set[str] | None = None, active_only: bool = False,
        search: str | None = None, limit: int = LISTING_LIMIT,
    ) -> list[UserListing]:
        users = list(self._users.values())
        if ids is not None:
            numbers = user_numbers(ids)
            users = [u for u in users if u.id in numbers]
        if active_only:
            users = [u for u in users if u.active]
        if search:
            needle = search.lower()
            users = [u for u in users if any(needle in part.lower() for part in
                                             (u.username, u.first_name, u.last_name))]
        users.sort(key=lambda u: u.username)
        return [UserListing(str(u.id), u.username, u.name) for u in users[:limit]]
