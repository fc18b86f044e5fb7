"""The token store on its own: tokens are found by prefix, checked by hash, expire, record
their last use at a minute's resolution and disappear with their user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla import models as fab_models

from metacrm.identity.token_store import (
    create_token_table,
    find_token,
    issue_token,
    list_tokens,
    parse_prefix,
    revoke_token,
    verify_token,
)

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[sa.Engine]:
    """FAB's tables (users) and the token table, with two users."""
    assert fab_models.User.__table__.metadata is Model.metadata
    Model.metadata.create_all(engine)
    with engine.begin() as connection:
        create_token_table(connection)
        for user_id, name in ((1, "ann"), (2, "bob")):
            connection.execute(
                sa.text(
                    "INSERT INTO ab_user (id, first_name, last_name, username, email, active) "
                    "VALUES (:id, :name, '', :name, :email, :active)"
                ),
                {"id": user_id, "name": name, "email": f"{name}@example.com", "active": True},
            )
    yield engine


def test_a_token_verifies_and_names_its_user(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = issue_token(connection, user_id=1, name="ci", now=T0)
        found = verify_token(connection, issued.secret, now=T0)

    assert found is not None
    assert (found.id, found.user_id, found.name) == (issued.info.id, 1, "ci")


def test_only_the_exact_secret_verifies(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = issue_token(connection, user_id=1, name="ci", now=T0)
        assert verify_token(connection, issued.secret[:-1] + "x", now=T0) is None
        assert verify_token(connection, issued.secret + "x", now=T0) is None
        assert verify_token(connection, issued.secret.upper(), now=T0) is None


def test_an_expired_token_does_not_verify(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = issue_token(
            connection, user_id=1, name="ci", expires_at=T0 + timedelta(days=1), now=T0
        )
        assert verify_token(connection, issued.secret, now=T0 + timedelta(hours=23)) is not None
        assert verify_token(connection, issued.secret, now=T0 + timedelta(days=1)) is None


def test_last_use_is_recorded_at_most_once_a_minute(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = issue_token(connection, user_id=1, name="ci", now=T0)
        assert find_token(connection, issued.info.id).last_used_at is None  # type: ignore[union-attr]

        for seconds, expected in ((0, T0), (59, T0), (61, T0 + timedelta(seconds=61))):
            verify_token(connection, issued.secret, now=T0 + timedelta(seconds=seconds))
            token = find_token(connection, issued.info.id)
            assert token is not None and token.last_used_at == expected


def test_listing_is_per_user_and_revoking_deletes(db: sa.Engine) -> None:
    with db.begin() as connection:
        first = issue_token(connection, user_id=1, name="a", now=T0)
        second = issue_token(connection, user_id=1, name="b", now=T0 + timedelta(seconds=1))
        issue_token(connection, user_id=2, name="c", now=T0)

        assert [t.name for t in list_tokens(connection, 1)] == ["a", "b"]
        assert revoke_token(connection, first.info.id) is True
        assert revoke_token(connection, first.info.id) is False
        assert [t.id for t in list_tokens(connection, 1)] == [second.info.id]
        assert verify_token(connection, first.secret, now=T0) is None


def test_deleting_a_user_deletes_their_tokens(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = issue_token(connection, user_id=1, name="ci", now=T0)
    with db.begin() as connection:
        connection.execute(sa.text("DELETE FROM ab_user WHERE id = 1"))
    with db.begin() as connection:
        assert find_token(connection, issued.info.id) is None
        assert verify_token(connection, issued.secret, now=T0) is None


def test_two_tokens_never_share_a_secret_or_prefix(db: sa.Engine) -> None:
    with db.begin() as connection:
        issued = [issue_token(connection, user_id=1, name=str(i), now=T0) for i in range(50)]

    assert len({t.secret for t in issued}) == 50
    assert len({t.info.prefix for t in issued}) == 50


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("mcrm_0123456789ab_secret", "0123456789ab"),
        ("mcrm_0123456789ab_", None),
        ("mcrm_0123456789ab", None),
        ("mcrm_0123456789AB_secret", None),
        ("mcrm_0123456789abXsecret", None),
        ("mcrm_", None),
        ("eyJhbGciOi.x.y", None),
        ("", None),
    ],
)
def test_only_well_formed_tokens_have_a_prefix(text: str, prefix: str | None) -> None:
    assert parse_prefix(text) == prefix
