"""The SQL of duplicate checks (`storage.duplicate_search`): exact keys everywhere, trigram
similarity on PostgreSQL — where conditions of one rule with different thresholds each
keep their own (the statement's `%` runs at the lowest of them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from metacrm.storage.duplicate_search import KeyCondition, duplicate_ids, trigram_schema

NAMES = ("globex international trading", "globex internatonal trading",
         "initech software", "initech softwares", "umbrella")


def make_table(engine: sa.Engine) -> sa.Table:
    table = sa.Table("firm", sa.MetaData(), sa.Column("id", sa.String, primary_key=True),
                     sa.Column("created_at", sa.DateTime(timezone=True)),
                     sa.Column("k_name", sa.String), sa.Column("k_alias", sa.String))
    table.create(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {"id": f"id{n}", "created_at": start + timedelta(minutes=n), "k_name": name,
             "k_alias": name} for n, name in enumerate(NAMES)])
    return table


def test_fuzzy_conditions_keep_their_own_thresholds(engine: sa.Engine) -> None:
    table = make_table(engine)
    loose = KeyCondition("k_name", "globex international trading co", True, 0.5)
    strict = KeyCondition("k_alias", "initech softwar", True, 0.9)
    with engine.begin() as conn:
        trigrams = trigram_schema(conn) is not None
        either = duplicate_ids(conn, table, [loose, strict], operator="or")
        strict_first = duplicate_ids(conn, table, [strict, loose], operator="or")
        both = duplicate_ids(conn, table, [loose, strict], operator="and")
        exact = duplicate_ids(conn, table, [KeyCondition("k_name", "umbrella")],
                              operator="or", exclude=["id9"])
    if trigrams:  # PostgreSQL with pg_trgm: similar names, each at its threshold
        assert either == strict_first == ["id0", "id1"]
    else:  # SQLite: fuzzy conditions compare exactly
        assert either == strict_first == []
    assert both == [] and exact == ["id4"]
