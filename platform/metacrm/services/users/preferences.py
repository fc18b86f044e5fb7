"""Per-user screen preferences, kept in `metacrm_user_preferences`: the language, the time
zone date-times are shown in, and the date and number formats.

Values are stored as chosen (codes such as `"iso"`, IANA zone names); what they mean is the
screens' business (`web/i18n.py`), which also checks them before they are saved. An empty
value means "the default".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from metacrm.storage.system_tables import user_preferences


@dataclass(frozen=True)
class UserPreferences:
    """What one user picked; None is the default."""

    language: str | None = None
    time_zone: str | None = None
    date_format: str | None = None
    number_format: str | None = None


def saved_preferences(engine: sa.Engine, user_id: str) -> UserPreferences:
    """The user's preferences (all defaults when they never chose any)."""
    table = user_preferences
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(table.c.language, table.c.time_zone, table.c.date_format,
                      table.c.number_format).where(table.c.user_id == user_id)
        ).first()
    if row is None:
        return UserPreferences()
    return UserPreferences(row.language, row.time_zone, row.date_format, row.number_format)


def saved_time_zone(engine: sa.Engine, user_id: str) -> str:
    """The IANA zone the user picked, for what is computed or sent on their behalf away
    from the screens (calendars, reminders, emails): UTC when none or unknown here."""
    name = saved_preferences(engine, user_id).time_zone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def saved_language(engine: sa.Engine, user_id: str) -> str | None:
    return saved_preferences(engine, user_id).language


def save_preferences(engine: sa.Engine, user_id: str, preferences: UserPreferences) -> None:
    """Replace the user's preferences with `preferences` (one transaction)."""
    _upsert(engine, user_id, asdict(preferences))


def saved_phone(engine: sa.Engine, user_id: str) -> str | None:
    """The user's own phone (E.164) where calls about their records are forwarded."""
    with engine.connect() as conn:
        phone = conn.execute(sa.select(user_preferences.c.phone).where(
            user_preferences.c.user_id == user_id)).scalar_one_or_none()
    return str(phone) if phone else None


def save_phone(engine: sa.Engine, user_id: str, phone: str | None) -> None:
    """Keep the user's phone (already checked and in E.164; None: forget it)."""
    _upsert(engine, user_id, {"phone": phone})


def save_language(engine: sa.Engine, user_id: str, language: str) -> None:
    """Change the language only (the top bar's language picker)."""
    _upsert(engine, user_id, {"language": language})


def _upsert(engine: sa.Engine, user_id: str, values: dict[str, str | None]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        updated = conn.execute(
            user_preferences.update()
            .where(user_preferences.c.user_id == user_id)
            .values(**values, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(user_preferences.insert().values(
                user_id=user_id, **values, updated_at=now))
