"""Rows of `metacrm_attachments`: add, list a record's, get one, remove, and the purge's
queries. Only the file service uses it (after the access layer let the caller in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.storage.system_tables import attachments


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    entity: str
    record_id: str
    field: str | None
    name: str
    size: int
    content_type: str
    sha256: str
    template: str | None
    uploaded_by: str | None
    uploaded_at: datetime

    @property
    def immutable(self) -> bool:
        """Generated documents are kept as issued: nobody deletes them but the purge."""
        return self.template is not None

    def to_json(self) -> dict[str, Any]:
        at = self.uploaded_at if self.uploaded_at.tzinfo else self.uploaded_at.replace(
            tzinfo=UTC)
        return {"id": self.id, "name": self.name, "size": self.size,
                "content_type": self.content_type, "sha256": self.sha256,
                "field": self.field, "template": self.template,
                "uploaded_by": self.uploaded_by, "uploaded_at": datetime_to_json(at)}


def add(conn: sa.Connection, item: Attachment) -> None:
    conn.execute(attachments.insert().values(
        id=item.id, entity=item.entity, record_id=item.record_id, field=item.field,
        name=item.name, size=item.size, content_type=item.content_type, sha256=item.sha256,
        template=item.template, uploaded_by=item.uploaded_by, uploaded_at=item.uploaded_at))


def for_record(conn: sa.Connection, entity: str, record_id: str, *,
               field: str | None = None, any_field: bool = True) -> list[Attachment]:
    """The record's attachments, oldest first (all, or those of `field` only)."""
    query = sa.select(attachments).where(attachments.c.entity == entity,
                                         attachments.c.record_id == record_id)
    if not any_field:
        query = query.where(attachments.c.field.is_(None) if field is None
                            else attachments.c.field == field)
    query = query.order_by(attachments.c.uploaded_at, attachments.c.id)
    return [_attachment(row) for row in conn.execute(query).mappings()]


def get(conn: sa.Connection, entity: str, record_id: str, attachment_id: str
        ) -> Attachment | None:
    row = conn.execute(sa.select(attachments).where(
        attachments.c.id == attachment_id, attachments.c.entity == entity,
        attachments.c.record_id == record_id)).mappings().first()
    return _attachment(row) if row is not None else None


def by_id(conn: sa.Connection, attachment_id: str) -> Attachment | None:
    row = conn.execute(sa.select(attachments).where(
        attachments.c.id == attachment_id)).mappings().first()
    return _attachment(row) if row is not None else None


def remove(conn: sa.Connection, attachment_id: str) -> bool:
    result = conn.execute(attachments.delete().where(attachments.c.id == attachment_id))
    return bool(result.rowcount)


def referenced(conn: sa.Connection, sha256: str) -> bool:
    """Whether any attachment still holds the blob `sha256`."""
    return conn.execute(sa.select(attachments.c.id).where(
        attachments.c.sha256 == sha256).limit(1)).first() is not None


def records_with_files(conn: sa.Connection) -> list[tuple[str, str]]:
    """(entity, record id) of every record that has attachments (for the purge)."""
    rows = conn.execute(sa.select(attachments.c.entity, attachments.c.record_id).distinct())
    return [(row.entity, row.record_id) for row in rows]


def mark_orphaned(conn: sa.Connection, entity: str, record_ids: list[str],
                  at: datetime) -> None:
    conn.execute(attachments.update().where(
        attachments.c.entity == entity, attachments.c.record_id.in_(record_ids),
        attachments.c.orphaned_at.is_(None)).values(orphaned_at=at))


def orphaned_before(conn: sa.Connection, before: datetime, limit: int = 1000
                    ) -> list[Attachment]:
    rows = conn.execute(sa.select(attachments).where(
        attachments.c.orphaned_at.is_not(None), attachments.c.orphaned_at < before
    ).limit(limit)).mappings()
    return [_attachment(row) for row in rows]


def _attachment(row: sa.RowMapping) -> Attachment:
    return Attachment(
        id=row["id"], entity=row["entity"], record_id=row["record_id"], field=row["field"],
        name=row["name"], size=int(row["size"]), content_type=row["content_type"],
        sha256=row["sha256"], template=row["template"], uploaded_by=row["uploaded_by"],
        uploaded_at=row["uploaded_at"])
