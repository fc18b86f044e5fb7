"""Claims of a periodic job's next run, shared by every scheduler process.

A pack's `ctx.periodic(name, every, job)` must run once per `every` for the instance, not
once per scheduler: production runs several schedulers for availability. The claim is one
conditional UPDATE (atomic on both databases: PostgreSQL locks the row, SQLite serialises
writers); the first claim of a name inserts its row, and a concurrent first insert loses on
the primary key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from metacrm.storage.system_tables import periodic_slots


def claim_period(engine: sa.Engine, name: str, now: datetime, every: timedelta) -> bool:
    """True when this process may start `name` at `now`: no process started it during the
    `every` before. The claim itself records the start."""
    slot = periodic_slots.c
    with engine.begin() as connection:
        claimed = connection.execute(
            sa.update(periodic_slots)
            .where(slot.name == name, slot.last_run <= now - every)
            .values(last_run=now)).rowcount
        if claimed:
            return True
        if connection.execute(sa.select(slot.name).where(slot.name == name)).first():
            return False
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(periodic_slots).values(name=name, last_run=now))
    except sa.exc.IntegrityError:
        return False  # another scheduler claimed the first run at the same moment
    return True
