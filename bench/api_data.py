"""The benchmark entity of bench/api.py, its fast fill and the request payloads.

One entity, `gadget`, with ten fields of mixed types (text, integer, decimal, money, date,
datetime, boolean, picklist, email, user). Rows are generated inside PostgreSQL
(`INSERT ... SELECT generate_series`) so filling 1M rows takes seconds, not minutes.
"""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

LABEL = {"en": "Gadget", "ru": "Гаджет"}
STAGES = ("new", "open", "won", "lost", "parked")
TABLE = "crm_gadget"
"""metacrm's table of the entity (also served by the hand-written floor)."""
FAB_TABLE = "gadget"
"""The copy Flask-AppBuilder's ModelRestApi serves (in its own schema)."""


def _field(name: str, type_: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": LABEL, **options}


GADGET: dict[str, Any] = {
    "kind": "entity", "name": "gadget", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [
        _field("title", "text", required=True, max_length=200),
        _field("quantity", "integer", indexed=True, min=0, max=1_000_000),
        _field("weight", "decimal", precision=12, scale=3),
        _field("price", "money", currency="USD", indexed=True),
        _field("due_on", "date"),
        _field("seen_at", "datetime"),
        _field("active", "boolean", default=False),
        _field("stage", "picklist", indexed=True,
               choices=[{"value": s, "label": LABEL} for s in STAGES]),
        _field("email", "email"),
        _field("manager", "user"),
    ],
}

ADMIN_ROLE: dict[str, Any] = {
    "kind": "role", "name": "boss", "version": 1, "label": {"en": "Boss", "ru": "Босс"},
    "admin": True,
}

FIELD_COLUMNS = ("title", "quantity", "weight", "price", "price_currency", "due_on",
                 "seen_at", "active", "stage", "email", "manager")

_FILL_SQL = """
INSERT INTO {table} (id, created_at, created_by, updated_at, updated_by, owner, version,
                     title, quantity, weight, price, price_currency, due_on, seen_at,
                     active, stage, email, manager)
SELECT gen_random_uuid()::text, now(), :owner, now(), :owner, :owner, 1,
       'Gadget ' || g, (g * 7919) % 1000, ((g * 31) % 100000) / 1000.0,
       ((g * 104729) % 5000000) / 100.0, 'USD',
       DATE '2024-01-01' + (g % 365)::int,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 minute',
       g % 2 = 0, (ARRAY['new','open','won','lost','parked'])[1 + g % 5],
       'user' || g || '@example.com', :owner
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
"""


def fill(conn: sa.Connection, table: str, first: int, last: int, owner: str) -> None:
    """Insert rows numbered `first`..`last` (inclusive) into `table` in storage form."""
    conn.execute(sa.text(_FILL_SQL.format(table=table)),
                 {"first": first, "last": last, "owner": owner})


def copy_table(conn: sa.Connection, source_schema: str, target_schema: str) -> None:
    """A copy of metacrm's table (columns, rows, indexes) for ModelRestApi."""
    conn.exec_driver_sql(
        f'CREATE TABLE "{target_schema}".{FAB_TABLE} '
        f'(LIKE "{source_schema}".{TABLE} INCLUDING DEFAULTS INCLUDING INDEXES)')
    conn.exec_driver_sql(
        f'INSERT INTO "{target_schema}".{FAB_TABLE} SELECT * FROM "{source_schema}".{TABLE}')
    # FAB's ModelRestApi routes GET /<int:pk> only: the copy gets an integer key (what a
    # FAB developer would declare) and keeps metacrm's text id as a unique column.
    conn.exec_driver_sql(
        f'ALTER TABLE "{target_schema}".{FAB_TABLE} DROP CONSTRAINT {FAB_TABLE}_pkey')
    conn.exec_driver_sql(
        f'ALTER TABLE "{target_schema}".{FAB_TABLE} ADD COLUMN num bigserial PRIMARY KEY')
    conn.exec_driver_sql(
        f'CREATE UNIQUE INDEX ux_{FAB_TABLE}_id ON "{target_schema}".{FAB_TABLE} (id)')


def metacrm_payload(rng: random.Random) -> dict[str, Any]:
    """A create body for metacrm's API (money as an object, decimals as strings)."""
    n = rng.randrange(1_000_000)
    return {
        "title": f"New gadget {n}", "quantity": n % 1000, "weight": f"{n % 1000}.125",
        "price": {"amount": f"{n % 50000}.50", "currency": "USD"},
        "due_on": "2025-03-01", "seen_at": "2025-03-01T12:30:00Z", "active": n % 2 == 0,
        "stage": STAGES[n % len(STAGES)], "email": f"buyer{n}@example.com", "manager": "1",
    }


def flat_payload(rng: random.Random) -> dict[str, Any]:
    """The same record as flat columns (the floor's and ModelRestApi's create body)."""
    body = metacrm_payload(rng)
    price = body.pop("price")
    body["price"] = price["amount"]
    body["price_currency"] = price["currency"]
    return body
