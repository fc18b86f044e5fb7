"""The floor with duties: bench/api.py's hand-written endpoints doing the same jobs as
metacrm's API, still by hand.

The bare floor (api_floor) authenticates nobody, counts nothing and writes no trail. A
developer hand-writing this CRM's API would have to do what the issue asks of every
endpoint, so this variant adds, in the plainest code: verifying the caller's JWT (PyJWT,
HS256), the list's bounded count (exact up to 1,000, in the page's own SELECT), and for a
create one audit row per non-empty field plus one outbox event, in the create's
transaction (metacrm's own `metacrm_audit` and `metacrm_outbox` tables). No access rules,
no rate limit, no metadata: the difference to metacrm is the price of being generic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import sqlalchemy as sa
from flask import Flask, Response, abort, jsonify, request

from api_data import STAGES, TABLE
from api_floor import SORTS, _problem, _record, _validated

COUNT_UP_TO = 1000
SYSTEM_COLUMNS = {"id", "created_at", "created_by", "updated_at", "updated_by", "version"}
"""Not audited (metacrm audits the fields and the owner)."""


def create_duties_app(engine: sa.Engine, secret_key: str) -> Flask:
    """Hand-written endpoints with the duties, at /duties/gadget."""
    metadata = sa.MetaData()
    table = sa.Table(TABLE, metadata, autoload_with=engine)
    audit = sa.Table("metacrm_audit", metadata, autoload_with=engine)
    events = sa.Table("metacrm_outbox", metadata, autoload_with=engine)
    app = Flask("duties")

    def caller() -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            abort(401)
        try:
            claims = jwt.decode(token, secret_key, algorithms=["HS256"])
        except jwt.PyJWTError:
            abort(401)
        return str(claims["sub"])

    @app.get("/duties/gadget/<record_id>")
    def get_record(record_id: str) -> Response:
        caller()
        with engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.id == record_id)).mappings().first()
        if row is None:
            abort(404)
        return jsonify({"data": _record(row)})

    @app.get("/duties/gadget")
    def list_records() -> Response:
        caller()
        stage, sort = request.args.get("stage"), request.args.get("sort", "-price")
        limit = int(request.args.get("limit", "50"))
        if stage not in STAGES or sort not in SORTS or not 1 <= limit <= 500:
            return _problem(422, "bad stage, sort or limit")
        column = table.c[sort.lstrip("-")]
        order = (column.desc(), table.c.id.desc()) if sort[0] == "-" else (column, table.c.id)
        capped = sa.select(table.c.id).where(table.c.stage == stage).limit(COUNT_UP_TO + 1)
        count = sa.select(sa.func.count()).select_from(capped.subquery()).scalar_subquery()
        statement = (sa.select(table, count.label("matching")).where(table.c.stage == stage)
                     .order_by(*order).limit(limit))
        with engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        matching = rows[0]["matching"] if rows else 0
        return jsonify({"data": [_record(row) for row in rows],
                        "meta": {"count": min(matching, COUNT_UP_TO + 1),
                                 "count_is_estimate": matching > COUNT_UP_TO}})

    @app.post("/duties/gadget")
    def create_record() -> Response | tuple[Response, int]:
        actor = caller()
        try:
            values = _validated(request.get_json(silent=True))
        except (ValueError, TypeError) as exc:
            return _problem(422, str(exc))
        now = datetime.now(UTC)
        values |= {"id": str(uuid.uuid4()), "created_at": now, "created_by": actor,
                   "updated_at": now, "updated_by": actor, "owner": actor, "version": 1}
        with engine.begin() as conn:
            row = conn.execute(table.insert().values(values).returning(*table.c)).mappings().one()
            record = _record(row)
            event_id = str(uuid.uuid4())
            conn.execute(audit.insert(), [
                {"id": str(uuid.uuid4()), "entity": "gadget", "record_id": record["id"],
                 "action": "created", "field": name, "old": None, "new": value,
                 "actor": actor, "at": now, "event_id": event_id}
                for name, value in record.items()
                if value is not None and name not in SYSTEM_COLUMNS
            ])
            conn.execute(events.insert().values(
                id=event_id, type="record.created", entity="gadget", record_id=record["id"],
                payload=_payload(record, actor, now), created_at=now, published_at=now))
        return jsonify({"data": record}), 201

    return app


def _payload(record: dict[str, Any], actor: str, now: datetime) -> dict[str, Any]:
    return {"version": 1, "entity": "gadget", "id": record["id"], "record": record,
            "actor": actor, "occurred_at": now.isoformat().replace("+00:00", "Z")}
