"""Flushing the pending lists of an entity's trigram (GIN) indexes after a bulk write.

Why: PostgreSQL's GIN indexes (`fastupdate`, the default) queue new entries in a pending
list of up to `gin_pending_list_limit` (4 MB), unsorted, and every search scans all of it.
After an import of many records the list stays full until autovacuum gets to the table, and
each fuzzy duplicate check on that entity pays for it: on 100k company keys left by a bulk
insert (452 pending pages), the fuzzy statement took 424 ms median / 1.2 s p95, and 28 ms /
68 ms once the list was flushed (bench/README.md, duplicate checks). `fastupdate = off`
avoids the list but made the 100k-row insert 5.7x slower (28 s against 4.9 s), so the list
stays and bulk writers flush it once at their end with `gin_clean_pending_list`.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.metadata.model import EntityDef
from metacrm.storage.tables import trigram_index_name

_FLUSH = sa.text(
    "SELECT coalesce(sum(gin_clean_pending_list(to_regclass(name))), 0) "
    "FROM unnest(CAST(:names AS text[])) AS name WHERE to_regclass(name) IS NOT NULL")


def flush_trigram_indexes(conn: sa.Connection, entity: EntityDef) -> int:
    """Flush the pending lists of `entity`'s trigram indexes; the pages flushed (0 where
    there are none: another database, no fuzzy key, pg_trgm not installed). A role that
    does not own the indexes may not flush them: then nothing happens (autovacuum will)."""
    if conn.dialect.name != "postgresql":
        return 0
    names = [trigram_index_name(entity, key) for key in entity.match_keys if key.trigram]
    if not names:
        return 0
    try:
        with conn.begin_nested():
            return int(conn.execute(_FLUSH, {"names": names}).scalar_one())
    except sa.exc.DBAPIError:
        return 0
