"""The round-robin position of (team, entity): a counter advanced atomically.

Each assignment takes the next number with one `UPDATE ... RETURNING` (a row lock until the
transaction ends, so concurrent assignments get different numbers); the first assignment
inserts the row (in a savepoint: when another transaction inserted it meanwhile, the update
is retried). The member is `members[number % len(members)]`, so members joining or leaving
the team shift the rotation but never stop it.
"""

from __future__ import annotations

import sqlalchemy as sa

from metacrm.storage.system_tables import round_robin_positions as positions


def _key(team: str, entity: str) -> sa.ColumnElement[bool]:
    return sa.and_(positions.c.team == team, positions.c.entity == entity)


def _advance(conn: sa.Connection, team: str, entity: str) -> int | None:
    return conn.execute(
        sa.update(positions).where(_key(team, entity))
        .values(position=positions.c.position + 1).returning(positions.c.position)
    ).scalar()


def next_position(conn: sa.Connection, team: str, entity: str) -> int:
    """Take the next assignment number of (team, entity): 0, 1, 2..."""
    number = _advance(conn, team, entity)
    if number is not None:
        return int(number)
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(positions).values(team=team, entity=entity, position=0))
        return 0
    except sa.exc.IntegrityError:
        number = _advance(conn, team, entity)
        if number is None:  # pragma: no cover - the row that collided cannot vanish
            raise
        return int(number)


def peek_position(conn: sa.Connection, team: str, entity: str) -> int:
    """The number the next assignment would take, without taking it (dry runs)."""
    current = conn.execute(sa.select(positions.c.position).where(_key(team, entity))).scalar()
    return 0 if current is None else int(current) + 1
