"""Recent records and favourites: the records a user opened last and those they starred.

The tables (`metacrm_recent_records`, `metacrm_favourite_records`) hold only pointers
(entity, id). What the navigation shows is read through `RecordsService.list` every time,
one query per entity, so a record the user can no longer read — reassigned, deleted, their
role changed, the entity gone — simply is not shown, and hidden fields never reach a title.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.clock import Clock
from metacrm.kernel.errors import MetacrmError
from metacrm.services.records.service import RecordsService
from metacrm.storage.system_tables import favourite_records, recent_records

RECENT_KEPT = 10
"""How many recently opened records are kept per user (older ones are pruned)."""
FAVOURITES_SHOWN = 50
"""How many starred records the navigation lists (newest first)."""


@dataclass(frozen=True)
class Bookmark:
    """A record the user may read, as they may see it (hidden fields left out)."""

    entity: str
    record: Mapping[str, Any]

    @property
    def record_id(self) -> str:
        return str(self.record["id"])


class RecordBookmarks:
    """Remember opened and starred records per user; list those still readable."""

    def __init__(self, records: RecordsService, *,
                 clock: Clock | None = None) -> None:
        self.records = records
        self.engine = records.engine
        self.clock: Clock = clock or records.now
        """The records service's clock unless told otherwise."""

    # --- recent -----------------------------------------------------------------------------

    def opened(self, subject: AccessSubject, entity: str, record_id: str) -> None:
        """Note that the subject opened the record (call after it was read for them), and
        prune the user's list to the newest `RECENT_KEPT`."""
        if subject.user_id is None:
            return
        user, now = subject.user_id, self.clock()
        key = _key(recent_records, user, entity, record_id)
        with self.engine.begin() as conn:
            if not conn.execute(recent_records.update().where(key)
                                .values(opened_at=now)).rowcount:
                _insert_once(conn, recent_records.insert().values(
                    user_id=user, entity=entity, record_id=record_id, opened_at=now))
            kept = (sa.select(recent_records.c.entity, recent_records.c.record_id)
                    .where(recent_records.c.user_id == user)
                    .order_by(recent_records.c.opened_at.desc())
                    .offset(RECENT_KEPT))
            for old_entity, old_id in conn.execute(kept).all():
                conn.execute(recent_records.delete().where(
                    _key(recent_records, user, old_entity, old_id)))

    def recent(self, subject: AccessSubject) -> list[Bookmark]:
        """The records the subject opened last and may still read, newest first."""
        if subject.user_id is None:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(recent_records.c.entity, recent_records.c.record_id)
                .where(recent_records.c.user_id == subject.user_id)
                .order_by(recent_records.c.opened_at.desc()).limit(RECENT_KEPT)).all()
        return self._readable(subject, [(str(e), str(i)) for e, i in rows])

    # --- favourites -------------------------------------------------------------------------

    def starred(self, subject: AccessSubject, entity: str, record_id: str) -> bool:
        if subject.user_id is None:
            return False
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.literal(1)).where(
                _key(favourite_records, subject.user_id, entity, record_id))).first() \
                is not None

    def star(self, subject: AccessSubject, entity: str, record_id: str,
             starred: bool) -> None:
        """Star or unstar a record. Starring reads it first as the subject (NotFound when
        they may not read it), so nobody can bookmark what they cannot see."""
        if subject.user_id is None:
            return
        user = subject.user_id
        key = _key(favourite_records, user, entity, record_id)
        if not starred:
            with self.engine.begin() as conn:
                conn.execute(favourite_records.delete().where(key))
            return
        record_id = str(self.records.get(subject, entity, record_id)["id"])
        key = _key(favourite_records, user, entity, record_id)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(sa.literal(1)).where(key)).first() is None:
                _insert_once(conn, favourite_records.insert().values(
                    user_id=user, entity=entity, record_id=record_id,
                    created_at=self.clock()))

    def favourites(self, subject: AccessSubject) -> list[Bookmark]:
        """The starred records the subject may still read, newest star first."""
        if subject.user_id is None:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(favourite_records.c.entity, favourite_records.c.record_id)
                .where(favourite_records.c.user_id == subject.user_id)
                .order_by(favourite_records.c.created_at.desc())
                .limit(FAVOURITES_SHOWN)).all()
        return self._readable(subject, [(str(e), str(i)) for e, i in rows])

    # --- reading through the subject's scope ------------------------------------------------

    def _readable(self, subject: AccessSubject, pointers: Sequence[tuple[str, str]]
                  ) -> list[Bookmark]:
        """The pointed-at records the subject may read, in the pointers' order."""
        wanted: dict[str, list[str]] = {}
        for entity, record_id in pointers:
            wanted.setdefault(entity, []).append(record_id)
        found: dict[tuple[str, str], Mapping[str, Any]] = {}
        for entity, ids in wanted.items():
            for record in _read(self.records, subject, entity, ids):
                found[(entity, str(record["id"]))] = record
        return [Bookmark(entity, found[(entity, record_id)])
                for entity, record_id in pointers if (entity, record_id) in found]


def _read(records: RecordsService, subject: AccessSubject, entity: str,
          ids: Iterable[str]) -> list[Mapping[str, Any]]:
    unique = sorted(set(ids))
    try:
        page = records.list(subject, entity, criteria={
            "field": "id", "op": "in", "value": unique}, limit=len(unique))
    except MetacrmError:
        return []  # the entity is gone or not readable by this subject at all
    return list(page.records)


def _insert_once(conn: sa.Connection, insert: sa.Insert) -> None:
    """Insert a row another tab of the same user may have inserted meanwhile (then keep
    theirs): in a savepoint, so the duplicate does not abort the transaction."""
    try:
        with conn.begin_nested():
            conn.execute(insert)
    except sa.exc.IntegrityError:
        pass


def _key(table: sa.Table, user: str, entity: str, record_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.user_id == user, table.c.entity == entity,
                   table.c.record_id == record_id)
