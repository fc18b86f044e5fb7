"""What each user picked for their notifications, kept in `metacrm_user_preferences`
beside their language: how early reminders come (`reminder_minutes`) and whether unread
notifications are mailed to them once a day (`notification_digest`), and whether each
reminder is also mailed to them as it comes (`reminder_email`, off by default)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.storage.system_tables import user_preferences

DEFAULT_REMINDER_MINUTES = 60
MAX_REMINDER_MINUTES = 7 * 24 * 60
"""A week: reminders further ahead would mean scanning far into the future every tick."""
DIGEST_OFF = "off"
DIGEST_DAILY = "daily"
DIGEST_CHOICES = (DIGEST_OFF, DIGEST_DAILY)


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    reminder_minutes: int = DEFAULT_REMINDER_MINUTES
    notification_digest: str = DIGEST_OFF
    reminder_email: bool = False


YES = (True, "on", "true", "1", "yes")
NO = (False, None, "", "off", "false", "0", "no")


def checked(reminder_minutes: object, notification_digest: object,
            reminder_email: object = False) -> NotificationPreferences:
    """The preferences from a form or request, or ValidationFailed pointing at each bad one."""
    errors: list[ErrorDetail] = []
    if reminder_email not in YES and reminder_email not in NO:
        errors.append(ErrorDetail("must be true or false", "/reminder_email"))
    minutes = DEFAULT_REMINDER_MINUTES
    try:
        minutes = int(str(reminder_minutes).strip())
    except ValueError:
        errors.append(ErrorDetail("must be a whole number of minutes", "/reminder_minutes"))
    else:
        if not 0 <= minutes <= MAX_REMINDER_MINUTES:
            errors.append(ErrorDetail(
                f"must be between 0 and {MAX_REMINDER_MINUTES} minutes (a week)",
                "/reminder_minutes"))
    if notification_digest not in DIGEST_CHOICES:
        errors.append(ErrorDetail(f"must be one of: {', '.join(DIGEST_CHOICES)}",
                                  "/notification_digest"))
    if errors:
        raise ValidationFailed("invalid notification preferences", errors)
    return NotificationPreferences(minutes, str(notification_digest), reminder_email in YES)


def load(engine: sa.Engine, user_id: str) -> NotificationPreferences:
    with engine.connect() as conn:
        row = conn.execute(sa.select(
            user_preferences.c.reminder_minutes, user_preferences.c.notification_digest,
            user_preferences.c.reminder_email,
        ).where(user_preferences.c.user_id == user_id)).first()
    if row is None:
        return NotificationPreferences()
    return NotificationPreferences(
        DEFAULT_REMINDER_MINUTES if row.reminder_minutes is None else row.reminder_minutes,
        row.notification_digest or DIGEST_OFF, bool(row.reminder_email))


def save(engine: sa.Engine, user_id: str, chosen: NotificationPreferences, at: datetime
         ) -> None:
    values = {"reminder_minutes": chosen.reminder_minutes,
              "notification_digest": chosen.notification_digest,
              "reminder_email": chosen.reminder_email, "updated_at": at}
    with engine.begin() as conn:
        updated = conn.execute(user_preferences.update().where(
            user_preferences.c.user_id == user_id).values(**values)).rowcount
        if not updated:
            conn.execute(user_preferences.insert().values(user_id=user_id, **values))


def reminder_minutes(conn: sa.Connection, user_ids: Iterable[str]) -> dict[str, int]:
    """Each user's reminder lead in minutes (the default for users who never chose)."""
    wanted = sorted(set(user_ids))
    leads = dict.fromkeys(wanted, DEFAULT_REMINDER_MINUTES)
    if wanted:
        rows = conn.execute(sa.select(user_preferences.c.user_id,
                                      user_preferences.c.reminder_minutes).where(
            user_preferences.c.user_id.in_(wanted),
            user_preferences.c.reminder_minutes.is_not(None)))
        leads.update({row.user_id: int(row.reminder_minutes) for row in rows})
    return leads


def mailed_reminders(conn: sa.Connection, user_ids: Iterable[str]) -> set[str]:
    """Those of the users who asked for their reminders by email too."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    rows = conn.execute(sa.select(user_preferences.c.user_id).where(
        user_preferences.c.user_id.in_(wanted), user_preferences.c.reminder_email.is_(True)))
    return {row.user_id for row in rows}


def longest_reminder_minutes(conn: sa.Connection) -> int:
    """How far ahead the earliest reminder of anybody may come (at least the default)."""
    longest = conn.execute(sa.select(sa.func.max(user_preferences.c.reminder_minutes))
                           ).scalar_one_or_none()
    return max(DEFAULT_REMINDER_MINUTES, int(longest or 0))


@dataclass(frozen=True, slots=True)
class PendingDigest:
    user_id: str
    previous: datetime | None
    """When the user's previous digest went out (None: never)."""


def pending_digests(conn: sa.Connection, day_start: datetime) -> list[PendingDigest]:
    """Users who asked for the daily digest and have not had one since `day_start`."""
    table = user_preferences
    rows = conn.execute(sa.select(table.c.user_id, table.c.digest_sent_at).where(
        table.c.notification_digest == DIGEST_DAILY,
        sa.or_(table.c.digest_sent_at.is_(None), table.c.digest_sent_at < day_start),
    ).order_by(table.c.user_id))
    return [PendingDigest(row.user_id, row.digest_sent_at) for row in rows]


def claim_digest(conn: sa.Connection, user_id: str, now: datetime, day_start: datetime
                 ) -> bool:
    """Claim today's digest of `user_id` in `conn`'s transaction; False when another
    scheduler claimed it (or the user opted out) meanwhile. The row stays locked until the
    transaction ends, so a concurrent claim waits and then finds the day done."""
    table = user_preferences
    claimed = conn.execute(table.update().where(
        table.c.user_id == user_id, table.c.notification_digest == DIGEST_DAILY,
        sa.or_(table.c.digest_sent_at.is_(None), table.c.digest_sent_at < day_start),
    ).values(digest_sent_at=now)).rowcount
    return bool(claimed)
