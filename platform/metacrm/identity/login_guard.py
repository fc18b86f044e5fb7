"""Brute-force protection of every password check: growing delays, then a time-limited lock.

Every login path ends in `MetacrmSecurityManager.auth_user_db` (the screens' `/app/login`,
the API's `POST /api/v1/security/login`; Flask-AppBuilder's `/login/` form only redirects to
`/app/login`), which asks `LoginGuard.wait_seconds` first and reports the outcome. Failures
are counted per (presented account name, client address) in `metacrm_login_failures`:

* **this address, this account**: `pair_free` failures are free; after the n-th further
  one the next attempt must wait `first_delay * 2**(n-1)` seconds, at most `max_delay`
  (1, 2, 4 … s, then a 15-minute lock). Typing errors cost nothing; guessing stalls fast.
* **this address, any account** (password spraying): the same curve after `address_free`.
* **this account, any address**: locked only when `account_failures` failures came from
  at least `account_addresses` different addresses, and then only `account_lock` seconds
  after the last one. An attacker on one address can therefore never lock the owner out;
  a botnet can, but only briefly, and gets one guess per `account_lock` for it.

An attempt made while waiting is refused without checking the password and is not counted,
so hammering does not lengthen the wait. A failure is forgotten `forget_after` after the
last failure of its row; a successful login forgets its own (account, address) row.

The counters live in the database rather than in Redis: they are written only on a failed
login (which already costs a slow password hash), every deployment has the database, and
every web process and host shares it — an embedded install or Redis going away (the rate
limiter then falls back to per-process memory) would otherwise reset or split the counts.

No Flask here: the web layer passes the account name and the client address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import MetacrmError

ACCOUNT_MAX_LENGTH = 256
ADDRESS_MAX_LENGTH = 64


guard_metadata = sa.MetaData()

login_failures = sa.Table(
    "metacrm_login_failures",
    guard_metadata,
    sa.Column("account", sa.String(ACCOUNT_MAX_LENGTH), primary_key=True),
    sa.Column("address", sa.String(ADDRESS_MAX_LENGTH), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", UTCDateTime(), nullable=False, index=True),
    sa.Index("ix_metacrm_login_failures_address", "address"),
)


@dataclass(frozen=True)
class LoginLimits:
    """How many failures are free and how long the waits grow (see the module docstring)."""

    pair_free: int = 5
    address_free: int = 30
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    account_failures: int = 50
    account_addresses: int = 5
    account_lock: timedelta = timedelta(minutes=1)
    forget_after: timedelta = timedelta(hours=1)

    def delay_after(self, failures: int, free: int) -> timedelta:
        """The wait after the `failures`-th failure when `free` of them cost nothing."""
        beyond = failures - free
        if beyond <= 0:
            return timedelta(0)
        if beyond > 32:  # 2**32 seconds is far past any cap; avoid huge numbers
            return self.max_delay
        delay: timedelta = self.first_delay * 2 ** (beyond - 1)
        return min(delay, self.max_delay)


class LoginThrottled(MetacrmError):
    """A login attempt refused unchecked because of earlier failures (HTTP 429)."""

    status = 429
    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins: try again in {retry_after} seconds "
            "(see the Retry-After header)"
        )
        self.retry_after = retry_after


class LoginGuard:
    """Counts failed logins in the database and says how long the next attempt must wait.

    `clock` gives the current UTC time; tests replace it to move time without sleeping.
    """

    def __init__(self, engine: sa.Engine, limits: LoginLimits | None = None, *,
                 clock: Clock = utc_now) -> None:
        self.engine = engine
        self.limits = limits or LoginLimits()
        self.clock = clock

    def wait_seconds(self, account: str, address: str) -> int:
        """Seconds before `account` may try again from `address` (0: it may now)."""
        account, address = normalise_account(account), normalise_address(address)
        now = self.clock()
        limits = self.limits
        since = now - limits.forget_after
        table = login_failures
        with self.engine.connect() as connection:
            by_account = connection.execute(
                sa.select(table.c.address, table.c.failures, table.c.last_failure_at)
                .where(table.c.account == account, table.c.last_failure_at > since)
            ).all()
            by_address = connection.execute(
                sa.select(sa.func.sum(table.c.failures), sa.func.max(table.c.last_failure_at))
                .where(table.c.address == address, table.c.last_failure_at > since)
            ).one()
        ends: list[datetime] = []
        for row in by_account:
            if row.address == address:
                ends.append(row.last_failure_at
                            + limits.delay_after(row.failures, limits.pair_free))
        if by_address[0]:
            ends.append(by_address[1]
                        + limits.delay_after(int(by_address[0]), limits.address_free))
        total = sum(row.failures for row in by_account)
        if total >= limits.account_failures and len(by_account) >= limits.account_addresses:
            ends.append(max(row.last_failure_at for row in by_account) + limits.account_lock)
        wait = max((end - now for end in ends), default=timedelta(0))
        if wait <= timedelta(0):
            return 0
        return max(1, int(-(-wait.total_seconds() // 1)))  # round up: never say 0 too early

    def check(self, account: str, address: str) -> None:
        """Raise LoginThrottled when the attempt must wait."""
        wait = self.wait_seconds(account, address)
        if wait:
            raise LoginThrottled(wait)

    def failed(self, account: str, address: str) -> None:
        """Count a failed attempt (and drop rows forgotten long ago)."""
        account, address = normalise_account(account), normalise_address(address)
        now = self.clock()
        since = now - self.limits.forget_after
        table = login_failures
        key = (table.c.account == account) & (table.c.address == address)
        restart = sa.case((table.c.last_failure_at <= since, 0),
                          else_=table.c.failures) + 1
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.last_failure_at <= since,
                                                    ~key))
            updated = connection.execute(
                table.update().where(key).values(failures=restart, last_failure_at=now))
            if not updated.rowcount:
                try:
                    with connection.begin_nested():
                        connection.execute(table.insert().values(
                            account=account, address=address, failures=1,
                            last_failure_at=now))
                except sa.exc.IntegrityError:  # a concurrent failure inserted it first
                    connection.execute(table.update().where(key).values(
                        failures=table.c.failures + 1, last_failure_at=now))

    def succeeded(self, account: str, address: str) -> None:
        """Forget this address's failures on this account after a correct password."""
        account, address = normalise_account(account), normalise_address(address)
        table = login_failures
        with self.engine.begin() as connection:
            connection.execute(table.delete().where(table.c.account == account,
                                                    table.c.address == address))


def normalise_account(account: str) -> str:
    """The counted form of a presented login name: trimmed, lower-case (FAB's login is
    case-insensitive), bounded in length."""
    return account.strip().lower()[:ACCOUNT_MAX_LENGTH]


def normalise_address(address: str | None) -> str:
    return (address or "unknown")[:ADDRESS_MAX_LENGTH]


def create_login_failure_table(connection: sa.Connection) -> None:
    """Create `metacrm_login_failures` when missing (idempotent)."""
    login_failures.create(connection, checkfirst=True)
