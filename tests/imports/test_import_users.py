"""Owners and user fields named by login, email or display name."""

from __future__ import annotations

import pytest

from metacrm.imports.lookups import UserResolver
from metacrm.kernel.users_memory import InMemoryUserDirectory, StoredUser


@pytest.fixture
def directory() -> InMemoryUserDirectory:
    users = InMemoryUserDirectory()
    users.add(StoredUser(1, "ann", "Ann@Example.com", first_name="Ann", last_name="Lee"))
    users.add(StoredUser(2, "bob", "bob@example.com", first_name="Bob", last_name="Ray"))
    users.add(StoredUser(3, "bob2", None, first_name="Bob", last_name="Ray"))
    return users


def test_users_are_found_by_login_email_or_unique_name(
        directory: InMemoryUserDirectory) -> None:
    resolver = UserResolver(directory, None)

    assert resolver.resolve(None, "ANN") == "1"
    assert resolver.resolve(None, " ann@example.COM ") == "1"
    assert resolver.resolve(None, "Ann Lee") == "1"
    with pytest.raises(ValueError, match="2 users are named 'Bob Ray'"):
        resolver.resolve(None, "Bob Ray")
    with pytest.raises(ValueError, match="no active user 'zed'"):
        resolver.resolve(None, "zed")


def test_the_mapping_can_allow_one_way_of_naming_only(
        directory: InMemoryUserDirectory) -> None:
    by_email = UserResolver(directory, "email")

    assert by_email.resolve(None, "bob@example.com") == "2"
    with pytest.raises(ValueError):
        by_email.resolve(None, "bob")
