"""Rows of `metacrm_duplicate_scans`: a scan asked for, then its result."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.storage.system_tables import duplicate_scans


def add_scan(conn: sa.Connection, scan_id: str, entity: str, user_id: str, at: datetime
             ) -> None:
    conn.execute(duplicate_scans.insert().values(id=scan_id, entity=entity,
                                                 requested_by=user_id, status="queued",
                                                 created_at=at))


def finish_scan(conn: sa.Connection, scan_id: str, *, groups: Sequence[Any] | None,
                error: str | None, at: datetime) -> None:
    conn.execute(sa.update(duplicate_scans).where(duplicate_scans.c.id == scan_id).values(
        status="failed" if error else "done", groups=None if groups is None else list(groups),
        error=error, finished_at=at))


def read_scan(conn: sa.Connection, scan_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(duplicate_scans).where(duplicate_scans.c.id == scan_id)
                       ).mappings().first()
    return dict(row) if row is not None else None


def latest_scan(conn: sa.Connection, entity: str, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(duplicate_scans).where(duplicate_scans.c.entity == entity,
                                         duplicate_scans.c.requested_by == user_id)
        .order_by(duplicate_scans.c.created_at.desc(), duplicate_scans.c.id.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row is not None else None
