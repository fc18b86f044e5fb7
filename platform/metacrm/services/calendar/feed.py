"""Each user's iCal feed (RFC 5545) for phone and desktop calendars, behind a token.

A user creates their feed token on the profile page; it is shown once and stored only as
its SHA-256, so a copy of the database opens no feed. Creating a new token replaces the
old one; revoking deletes it. `check_token` compares in constant time and answers the same
for an unknown user, a revoked token and a wrong one, so a probe learns nothing.

The feed is read-only and shows what the user may read of their own calendar (the calendar
service, read as that user's access subject): from `PAST` ago to `AHEAD` from now. It is
written by the `icalendar` library (line folding, escaping, UTC times), each event with a
stable UID (entity and record id) and DTSTAMP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import icalendar
import sqlalchemy as sa

from metacrm.services.calendar.service import CalendarItem
from metacrm.storage.system_tables import calendar_feed_tokens

PAST = timedelta(days=31)
AHEAD = timedelta(days=366)
PRODUCT_ID = "-//metacrm//calendar feed//EN"
TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(engine: sa.Engine, user_id: str, now: datetime | None = None) -> str:
    """A new feed token for the user (replacing any former one); shown once, kept hashed."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    moment = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(calendar_feed_tokens.delete().where(
            calendar_feed_tokens.c.user_id == user_id))
        conn.execute(calendar_feed_tokens.insert().values(
            user_id=user_id, token_hash=_digest(token), created_at=moment))
    return token


def revoke_token(engine: sa.Engine, user_id: str) -> bool:
    """Delete the user's feed token; whether there was one."""
    with engine.begin() as conn:
        deleted = conn.execute(calendar_feed_tokens.delete().where(
            calendar_feed_tokens.c.user_id == user_id)).rowcount
    return bool(deleted)


def token_created_at(engine: sa.Engine, user_id: str) -> datetime | None:
    """When the user's current token was made (None: they have no feed)."""
    with engine.connect() as conn:
        value: datetime | None = conn.execute(sa.select(calendar_feed_tokens.c.created_at).where(
            calendar_feed_tokens.c.user_id == user_id)).scalar()
    return value


def check_token(engine: sa.Engine, user_id: str, token: str | None) -> bool:
    """Whether `token` is the user's current feed token (constant-time comparison)."""
    if not token or len(token) > 256 or len(user_id) > 64:
        return False
    with engine.connect() as conn:
        stored = conn.execute(sa.select(calendar_feed_tokens.c.token_hash).where(
            calendar_feed_tokens.c.user_id == user_id)).scalar()
    return hmac.compare_digest(stored or "0" * 64, _digest(token)) and stored is not None


def feed_range(now: datetime) -> tuple[datetime, datetime]:
    """The span a feed covers around `now`."""
    return now - PAST, now + AHEAD


def render_feed(items: Iterable[CalendarItem], *, name: str, time_zone: str, host: str,
                now: datetime) -> bytes:
    """The items as one VCALENDAR: timed events in UTC, all-day ones as DATE values."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", time_zone)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for item in items:
        event = icalendar.Event()
        event.add("uid", f"{item.entity}-{item.id}@{host}")
        event.add("dtstamp", stamp)
        if item.all_day and item.day is not None:
            event.add("dtstart", item.day)
            event.add("dtend", item.day + timedelta(days=1))
        else:
            event.add("dtstart", item.start.astimezone(UTC))
            event.add("dtend", item.end.astimezone(UTC))
        event.add("summary", item.title or item.entity)
        location = item.record.get("location")
        if isinstance(location, str) and location:
            event.add("location", location)
        link = item.record.get("online_url")
        if isinstance(link, str) and link:
            event.add("url", link)
        description = item.record.get("description")
        if isinstance(description, str) and description:
            event.add("description", description)
        status = item.record.get("status")
        if item.entity == "meeting" and status == "cancelled":
            event.add("status", "CANCELLED")
        event.add("categories", [item.entity])
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
