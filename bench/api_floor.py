"""The floor of bench/api.py: a hand-written Flask + SQLAlchemy Core endpoint set.

What a developer would write by hand for one table, with no framework in between: get by
id, a list of up to 500 with one filter and one sort, and a create with minimal validation
(required title, type checks, known picklist values) and serialisation (decimals as strings,
datetimes RFC 3339 UTC). No authentication: it is the floor, not a product.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, abort, jsonify, request

from api_data import STAGES, TABLE

SORTS = {"price", "-price", "quantity", "-quantity"}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record(row: sa.RowMapping) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in row.items()}


def _problem(status: int, message: str) -> Response:
    response = jsonify({"status": status, "detail": message})
    response.status_code = status
    return response


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None


def _validated(body: Any) -> dict[str, Any]:
    """Storage values of a create body; ValueError names the first bad field."""
    if not isinstance(body, dict):
        raise ValueError("body must be an object")
    title = body.get("title")
    if not isinstance(title, str) or not title or len(title) > 200:
        raise ValueError("title: required text of at most 200 characters")
    quantity = body.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        raise ValueError("quantity: must be an integer")
    if body.get("stage") not in (None, *STAGES):
        raise ValueError("stage: unknown value")
    active = body.get("active", False)
    if not isinstance(active, bool):
        raise ValueError("active: must be a boolean")
    return {
        "title": title, "quantity": quantity,
        "weight": _decimal(body["weight"]) if body.get("weight") is not None else None,
        "price": _decimal(body["price"]) if body.get("price") is not None else None,
        "price_currency": body.get("price_currency") or "USD",
        "due_on": date.fromisoformat(body["due_on"]) if body.get("due_on") else None,
        "seen_at": datetime.fromisoformat(body["seen_at"]) if body.get("seen_at") else None,
        "active": active, "stage": body.get("stage"), "email": body.get("email"),
        "manager": body.get("manager"),
    }


def create_floor_app(engine: sa.Engine) -> Flask:
    """The hand-written app over metacrm's table of the benchmark entity."""
    table = sa.Table(TABLE, sa.MetaData(), autoload_with=engine)
    app = Flask("floor")

    @app.get("/floor/gadget/<record_id>")
    def get_record(record_id: str) -> Response:
        with engine.connect() as conn:
            row = conn.execute(table.select().where(table.c.id == record_id)).mappings().first()
        if row is None:
            abort(404)
        return jsonify({"data": _record(row)})

    @app.get("/floor/gadget")
    def list_records() -> Response:
        stage = request.args.get("stage")
        sort = request.args.get("sort", "-price")
        try:
            limit = int(request.args.get("limit", "50"))
        except ValueError:
            return _problem(422, "limit: must be an integer")
        if stage not in STAGES or sort not in SORTS or not 1 <= limit <= 500:
            return _problem(422, "bad stage, sort or limit")
        column = table.c[sort.lstrip("-")]
        order = (column.desc(), table.c.id.desc()) if sort[0] == "-" else (column, table.c.id)
        statement = table.select().where(table.c.stage == stage).order_by(*order).limit(limit)
        with engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        return jsonify({"data": [_record(row) for row in rows]})

    @app.post("/floor/gadget")
    def create_record() -> Response | tuple[Response, int]:
        try:
            values = _validated(request.get_json(silent=True))
        except (ValueError, TypeError) as exc:
            return _problem(422, str(exc))
        now = datetime.now(UTC)
        values |= {"id": str(uuid.uuid4()), "created_at": now, "created_by": "floor",
                   "updated_at": now, "updated_by": "floor", "owner": "floor", "version": 1}
        with engine.begin() as conn:
            row = conn.execute(table.insert().values(values).returning(*table.c)).mappings().one()
        return jsonify({"data": _record(row)}), 201

    return app
