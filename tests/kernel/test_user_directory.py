"""The user directory port: one contract, run over every adapter (Flask-AppBuilder's tables
and the in-memory fake), so automation, webhooks and tests can rely on the port alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import pytest
import sqlalchemy as sa

from metacrm.identity.fab_directory import FabUserDirectory
from metacrm.kernel.users import UserDirectory, UserIdentity, UserListing
from metacrm.kernel.users_memory import InMemoryUserDirectory, StoredUser
from web_harness import open_web


class Users(Protocol):
    directory: UserDirectory

    def add(self, username: str, role: str, *, email: str | None = None) -> int: ...

    def deactivate(self, username: str) -> None: ...

    @contextmanager
    def connection(self) -> Iterator[Any]: ...


class FabUsers:
    def __init__(self, web: Any) -> None:
        self.web = web
        self.directory: UserDirectory = FabUserDirectory()

    def add(self, username: str, role: str, *, email: str | None = None) -> int:
        return self.web.create_user(username, role, email=email).id  # type: ignore[no-any-return]

    def deactivate(self, username: str) -> None:
        self.web.set_active(username, False)

    @contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        with self.web.identity.engine.connect() as conn:
            yield conn


class MemoryUsers:
    def __init__(self) -> None:
        self.memory = InMemoryUserDirectory()
        self.directory: UserDirectory = self.memory
        self.stored: dict[str, StoredUser] = {}

    def add(self, username: str, role: str, *, email: str | None = None) -> int:
        user = StoredUser(len(self.stored) + 1, username,
                          email or f"{username}@users.metacrm.invalid", roles=(role,),
                          first_name=username)  # as `create_user` fills FAB's names
        self.stored[username] = self.memory.add(user)
        return user.id

    def deactivate(self, username: str) -> None:
        self.memory.add(replace(self.stored[username], active=False))

    @contextmanager
    def connection(self) -> Iterator[None]:
        yield None


@pytest.fixture(params=["fab", "memory"])
def users(request: pytest.FixtureRequest, isolated_database_url: str,
          tmp_path: Path) -> Iterator[Users]:
    if request.param == "memory":
        yield MemoryUsers()
        return
    with open_web(isolated_database_url, tmp_path) as web:
        yield FabUsers(web)


def test_users_are_found_by_id_and_name_with_their_roles(users: Users) -> None:
    ann = users.add("ann", "clerk", email="ann@example.com")
    bob = users.add("bob", "boss")
    with users.connection() as conn:
        assert users.directory.load(conn, ann) == UserIdentity(ann, "ann", True, ("clerk",))
        assert users.directory.load(conn, bob) == UserIdentity(bob, "bob", True, ("boss",))
        assert users.directory.load(conn, 999_999) is None
        assert users.directory.find_id(conn, "ANN") == ann
        assert users.directory.find_id(conn, "nobody") is None


def test_emails_only_of_active_users_with_a_user_id(users: Users) -> None:
    ann = users.add("ann", "clerk", email="ann@example.com")
    users.add("cid", "clerk", email="cid@example.com")
    with users.connection() as conn:
        assert users.directory.email_of(conn, str(ann)) == "ann@example.com"
        for not_an_id in ("999999", "", "abc", "1" * 40, "٣"):
            assert users.directory.email_of(conn, not_an_id) is None
    users.deactivate("cid")
    with users.connection() as conn:
        assert users.directory.email_of(conn, str(users.directory.find_id(conn, "cid"))) is None


def test_listings_by_id_search_and_activity(users: Users) -> None:
    ids = {name: str(users.add(name, "clerk")) for name in ("dora", "abe", "carl")}
    users.deactivate("carl")
    with users.connection() as conn:
        everyone = users.directory.listings(conn)
        assert [u.username for u in everyone] == ["abe", "carl", "dora"]
        assert everyone[0] == UserListing(ids["abe"], "abe", "abe")
        assert [u.username for u in users.directory.listings(conn, active_only=True)] == [
            "abe", "dora"]
        assert [u.id for u in users.directory.listings(
            conn, ids={ids["dora"], "not-an-id", "0"})] == [ids["dora"]]
        assert users.directory.listings(conn, ids={"x"}) == []
        assert [u.username for u in users.directory.listings(conn, search="AR")] == ["carl"]
        assert len(users.directory.listings(conn, limit=2)) == 2

