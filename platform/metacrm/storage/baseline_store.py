"""The baselines of metadata versions: which pack documents each version was built on.

`metacrm_metadata_baselines` gets a row whenever the packs' documents change; an admin's
edit keeps the baseline it was made on. Databases from before baselines were recorded have
no row: their baseline is taken to be the documents of the newest version applied from the
pack files by the command line (`author = 'cli'`, what `metacrm init` and `metacrm metadata
apply` record), so edits made in the designer after it count as customisations — and when
there is no such version either, the live documents themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.metadata.documents import Document
from metacrm.storage import metadata_store
from metacrm.storage.metadata_store import document_from_json, document_to_json
from metacrm.storage.system_tables import metadata_baselines, metadata_versions

COMMAND_LINE_AUTHOR = "cli"


def baseline_of(connection: sa.Connection, version: int) -> tuple[Document, ...] | None:
    """The baseline of metadata version `version` (None before the first version)."""
    if version <= 0:
        return None
    row = connection.execute(
        sa.select(metadata_baselines.c.documents)
        .where(metadata_baselines.c.version <= version)
        .order_by(metadata_baselines.c.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        return tuple(document_from_json(item) for item in row.documents)
    from_files = connection.execute(
        sa.select(sa.func.max(metadata_versions.c.number)).where(
            metadata_versions.c.number <= version,
            metadata_versions.c.author == COMMAND_LINE_AUTHOR,
        )
    ).scalar()
    return metadata_store.get(connection, int(from_files or version)).documents


def record_baseline(connection: sa.Connection, version: int,
                    documents: Sequence[Document]) -> None:
    """Make `documents` the baseline from metadata version `version` on."""
    connection.execute(metadata_baselines.insert().values(
        version=version,
        documents=[document_to_json(document) for document in documents],
        created_at=datetime.now(UTC),
    ))
