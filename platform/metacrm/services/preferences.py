"""Per-user screen preferences (the language), kept in `metacrm_user_preferences`."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.storage.system_tables import user_preferences


def saved_language(engine: sa.Engine, user_id: str) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(user_preferences.c.language).where(user_preferences.c.user_id == user_id)
        ).scalar_one_or_none()
    return value


def save_language(engine: sa.Engine, user_id: str, language: str) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        updated = conn.execute(
            user_preferences.update()
            .where(user_preferences.c.user_id == user_id)
            .values(language=language, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(user_preferences.insert().values(
                user_id=user_id, language=language, updated_at=now))
