"""The metadata store: every applied metadata version, kept in `metacrm_metadata_versions`.

A version holds the documents it was compiled from (so any version can be recompiled, diffed
or restored), who applied it and why, and the migration plan that was applied. The highest
number is the live version; `latest_number` is the cheap query every process runs to notice
that another process applied a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.kernel.errors import NotFound
from metacrm.metadata.documents import Document, plain_json
from metacrm.storage.system_tables import metadata_versions
from metacrm.storage.version_watch import announce_version

_SUMMARY_COLUMNS = (
    metadata_versions.c.number,
    metadata_versions.c.checksum,
    metadata_versions.c.author,
    metadata_versions.c.comment,
    metadata_versions.c.plan,
    metadata_versions.c.created_at,
)


@dataclass(frozen=True)
class VersionSummary:
    """A metadata version without its documents (what history lists)."""

    number: int
    checksum: str
    author: str | None
    comment: str | None
    plan: Mapping[str, Any] | None
    created_at: datetime

    def describe(self) -> str:
        """One line: number, UTC time, author, comment, size of the plan."""
        when = self.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        operations = list((self.plan or {}).get("operations", ()))
        destructive = sum(1 for op in operations if op.get("destructive"))
        changes = f"{len(operations)} operation{'s' if len(operations) != 1 else ''}"
        if destructive:
            changes += f", {destructive} destructive"
        parts = [f"v{self.number}", when, self.author or "-", f"({changes})"]
        if self.comment:
            parts.append(self.comment)
        return "  ".join(parts)


@dataclass(frozen=True)
class StoredVersion(VersionSummary):
    """A metadata version with the documents it was compiled from."""

    documents: tuple[Document, ...] = ()


def document_to_json(document: Document) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "name": document.name,
        "pack": document.pack,
        "source": document.source,
        "body": plain_json(document.body),
    }


def document_from_json(data: Mapping[str, Any]) -> Document:
    return Document(
        kind=str(data["kind"]),
        name=str(data["name"]),
        body=data["body"],
        source=str(data.get("source", "")),
        pack=str(data.get("pack", "")),
    )


def record_version(
    connection: sa.Connection,
    *,
    documents: Sequence[Document],
    checksum: str,
    author: str | None = None,
    comment: str | None = None,
    plan: Mapping[str, Any] | None = None,
    number: int | None = None,
) -> StoredVersion:
    """Store a new version, numbered `number` (default: the latest number + 1)."""
    number = latest_number(connection) + 1 if number is None else number
    created_at = datetime.now(UTC)
    connection.execute(
        metadata_versions.insert().values(
            number=number,
            checksum=checksum,
            documents=[document_to_json(d) for d in documents],
            author=author,
            comment=comment,
            plan=dict(plan) if plan is not None else None,
            created_at=created_at,
        )
    )
    announce_version(connection, number)
    return StoredVersion(
        number=number,
        checksum=checksum,
        author=author,
        comment=comment,
        plan=plan,
        created_at=created_at,
        documents=tuple(documents),
    )


def latest_number(connection: sa.Connection) -> int:
    """The live version's number; 0 when no version was applied yet."""
    number = connection.execute(sa.select(sa.func.max(metadata_versions.c.number))).scalar()
    return int(number or 0)


def current(connection: sa.Connection) -> StoredVersion | None:
    """The live version, or None before the first one."""
    number = latest_number(connection)
    return get(connection, number) if number else None


def get(connection: sa.Connection, number: int) -> StoredVersion:
    row = connection.execute(
        sa.select(*_SUMMARY_COLUMNS, metadata_versions.c.documents).where(
            metadata_versions.c.number == number
        )
    ).first()
    if row is None:
        raise NotFound(f"metadata version {number} does not exist")
    documents = tuple(document_from_json(item) for item in row.documents)
    return StoredVersion(**_summary_fields(row._mapping), documents=documents)


def history(connection: sa.Connection) -> list[VersionSummary]:
    """Every applied version, newest first (without documents)."""
    rows = connection.execute(
        sa.select(*_SUMMARY_COLUMNS).order_by(metadata_versions.c.number.desc())
    )
    return [VersionSummary(**_summary_fields(row._mapping)) for row in rows]


def _summary_fields(row: sa.RowMapping) -> dict[str, Any]:
    created_at: datetime = row["created_at"]
    if created_at.tzinfo is None:  # SQLite keeps the UTC wall time without its zone
        created_at = created_at.replace(tzinfo=UTC)
    return {
        "number": row["number"],
        "checksum": row["checksum"],
        "author": row["author"],
        "comment": row["comment"],
        "plan": row["plan"],
        "created_at": created_at.astimezone(UTC),
    }
