"""After a bulk write, the trigram indexes' pending lists are flushed
(`storage.trigram_upkeep`): every fuzzy duplicate check would otherwise scan them whole."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from metacrm.storage.duplicate_search import trigram_schema
from metacrm.storage.tables import trigram_index_name
from metacrm.storage.trigram_upkeep import flush_trigram_indexes

KEY = SimpleNamespace(column="k_name", trigram=True)
ENTITY: Any = SimpleNamespace(table="firm", match_keys=(KEY, SimpleNamespace(
    column="k_mail", trigram=False)))


def test_a_bulk_write_leaves_pending_entries_the_flush_moves_into_the_index(
        engine: sa.Engine) -> None:
    table = sa.Table("firm", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("k_name", sa.String))
    table.create(engine)
    with engine.begin() as conn:
        schema = trigram_schema(conn)
        if schema is not None:
            conn.exec_driver_sql(
                f'CREATE INDEX "{trigram_index_name(ENTITY, KEY)}" ON firm USING gin '
                f'(k_name "{schema}".gin_trgm_ops) WITH (fastupdate = on)')
        conn.execute(table.insert(), [{"id": n, "k_name": f"wonka acme {n} trading"}
                                      for n in range(2000)])
    with engine.begin() as conn:
        flushed = flush_trigram_indexes(conn, ENTITY)
        again = flush_trigram_indexes(conn, ENTITY)
    if schema is not None:  # PostgreSQL with pg_trgm: the insert queued its entries
        assert flushed > 0
    else:  # no trigram index: nothing to flush
        assert flushed == 0
    assert again == 0
