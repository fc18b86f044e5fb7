"""Personal API tokens: issued once, kept only as a hash, found by a short public prefix.

A token reads `mcrm_<prefix>_<secret>`: `prefix` (12 hex digits) is stored in clear and
indexed so a presented token is found with one lookup; `secret` (256 random bits) never is.
The table keeps the SHA-256 of the whole token — a slow password hash buys nothing for a
secret of that entropy and would cost every API request dearly. Revoking deletes the row.

`last_used_at` is refreshed at most once a minute per token, so reads authenticated by a
token do not turn into a write per request.

A verified token is remembered for `ttl_cache.IDENTITY_CACHE_TTL` seconds per process (keyed
by the SHA-256 of the presented text, never the text itself; `recently_verified`), so a
client sending the same token again and again costs no lookup. `revoke_token` forgets it at
once in this process; a token revoked by another process stops working within the TTL. A
refused token is never remembered: it is looked up again on every request.

No Flask here: the CLI, services and the web layer can all use it. The caller owns the
transaction (pass a Connection).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.identity.ttl_cache import TtlCache
from metacrm.kernel.ids import new_id

TOKEN_SCHEME = "mcrm_"  # noqa: S105  # the marker every token starts with, not a secret
PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX_LENGTH = 100

token_metadata = sa.MetaData()

# Flask-AppBuilder's user table, declared only so the foreign key below can be rendered:
# deleting a user deletes their tokens (SQLite could otherwise hand a deleted user's id,
# and so their tokens, to the next user it creates).
_fab_users = sa.Table("ab_user", token_metadata, sa.Column("id", sa.Integer, primary_key=True))

api_tokens = sa.Table(
    "metacrm_api_tokens",
    token_metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id",
        sa.Integer,
        sa.ForeignKey("ab_user.id", ondelete="CASCADE", name="fk_metacrm_api_tokens_user"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(NAME_MAX_LENGTH), nullable=False),
    sa.Column("prefix", sa.String(PREFIX_LENGTH), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
)

_INFO_KEYS = ("id", "user_id", "name", "prefix", "created_at", "expires_at", "last_used_at")
_INFO_COLUMNS = tuple(api_tokens.c[key] for key in _INFO_KEYS)

_verified: TtlCache[str, TokenInfo] = TtlCache()
"""Tokens verified lately, by the digest of the presented text (see the module docstring)."""


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: everything but its secret."""

    id: str
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: `secret` is the full token text, shown to its owner once."""

    info: TokenInfo
    secret: str


def create_token_table(connection: sa.Connection) -> None:
    """Create `metacrm_api_tokens` when missing (idempotent; needs FAB's `ab_user`)."""
    api_tokens.create(connection, checkfirst=True)


def issue_token(
    connection: sa.Connection,
    *,
    user_id: int,
    name: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Create a token for `user_id`; the returned secret is not stored anywhere."""
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = f"{TOKEN_SCHEME}{prefix}_{secrets.token_urlsafe(32)}"
    info = TokenInfo(
        id=new_id(),
        user_id=user_id,
        name=name,
        prefix=prefix,
        created_at=now or datetime.now(UTC),
        expires_at=expires_at,
        last_used_at=None,
    )
    connection.execute(
        api_tokens.insert().values(
            id=info.id,
            user_id=info.user_id,
            name=info.name,
            prefix=info.prefix,
            secret_hash=_digest(secret),
            created_at=info.created_at,
            expires_at=info.expires_at,
        )
    )
    return IssuedToken(info, secret)


def list_tokens(connection: sa.Connection, user_id: int) -> list[TokenInfo]:
    """The tokens of one user, oldest first."""
    rows = connection.execute(
        sa.select(*_INFO_COLUMNS)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    ).mappings()
    return [TokenInfo(**row) for row in rows]


def find_token(connection: sa.Connection, token_id: str) -> TokenInfo | None:
    row = (
        connection.execute(sa.select(*_INFO_COLUMNS).where(api_tokens.c.id == token_id))
        .mappings()
        .first()
    )
    return TokenInfo(**row) if row is not None else None


def revoke_token(connection: sa.Connection, token_id: str) -> bool:
    """Delete the token; False when there was none with that id."""
    result = connection.execute(api_tokens.delete().where(api_tokens.c.id == token_id))
    _verified.discard_where(lambda info: info.id == token_id)
    return bool(result.rowcount)


def recently_verified(presented: str, *, now: datetime | None = None) -> TokenInfo | None:
    """The token matching `presented` if `verify_token` accepted it less than the cache TTL
    ago in this process and it has not expired since, else None (then call `verify_token`)."""
    info = _verified.get(_digest(presented))
    if info is None or info.is_expired(now or datetime.now(UTC)):
        return None
    return info


def forget_verified_tokens() -> None:
    """Forget every remembered verification (the next use of each token is looked up)."""
    _verified.clear()


def verify_token(
    connection: sa.Connection, presented: str, *, now: datetime | None = None
) -> TokenInfo | None:
    """The token matching `presented` when it is known and not expired, else None.

    Also records the use (at most once per LAST_USED_RESOLUTION). Whether the token's user
    is still active is the caller's check: users live in Flask-AppBuilder's tables.
    """
    prefix = parse_prefix(presented)
    if prefix is None:
        return None
    row = (
        connection.execute(
            sa.select(*_INFO_COLUMNS, api_tokens.c.secret_hash).where(
                api_tokens.c.prefix == prefix
            )
        )
        .mappings()
        .first()
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], _digest(presented)):
        return None
    info = TokenInfo(**{key: row[key] for key in _INFO_KEYS})
    moment = now or datetime.now(UTC)
    if info.is_expired(moment):
        return None
    if info.last_used_at is None or moment - info.last_used_at >= LAST_USED_RESOLUTION:
        connection.execute(
            api_tokens.update().where(api_tokens.c.id == info.id).values(last_used_at=moment)
        )
    _verified.put(_digest(presented), info)
    return info


def looks_like_token(text: str) -> bool:
    """Whether `text` has the shape of a personal token (not whether it is valid)."""
    return text.startswith(TOKEN_SCHEME)


def parse_prefix(presented: str) -> str | None:
    """The lookup prefix of a well-formed token text, else None."""
    start = len(TOKEN_SCHEME)
    end = start + PREFIX_LENGTH
    if not presented.startswith(TOKEN_SCHEME) or len(presented) <= end + 1:
        return None
    prefix = presented[start:end]
    if presented[end] != "_" or any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
