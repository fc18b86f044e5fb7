"""The calendar API: a user's meetings and tasks in a range, and their iCal feed.

`GET /api/v1/calendar?from=…&to=…[&user=…]` -> `{"user", "time_zone", "from", "to",
"truncated", "data": [item...]}`: `from`/`to` are ISO date-times with an offset (or `Z`),
or dates (midnight in that user's time zone); times in the answer are UTC, `time_zone`
names the user's zone. `user` (a user id, default the caller) needs a read scope covering
that user's records (403 otherwise). Thin: the rules are `metacrm.services.calendar.service`'s.

`GET /api/v1/calendar/<user>.ics?token=…`: the user's feed (text/calendar), authenticated
by its token alone; an unknown user, a revoked or wrong token all answer the same 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import request_subject
from metacrm.api.filter_parsing import escape
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.services.calendar import feed as calendar_feed
from metacrm.services.calendar.service import CalendarService, user_zone

calendar_api = Blueprint("metacrm_calendar", __name__, url_prefix=f"{API_PREFIX}/calendar")

PARAMETERS = ("from", "to", "user")
MAX_VALUE_LENGTH = 64
MIN_YEAR, MAX_YEAR = 1900, 2999
"""Years a range may name (beyond them date arithmetic would overflow)."""


def calendar_service() -> CalendarService:
    return CalendarService(web_runtime().records)


def parse_moment(value: str, name: str, zone: str) -> datetime:
    """An ISO date-time with an offset, or a date (its midnight in `zone`), as UTC."""
    problem = ValidationFailed(f"invalid {name}", [ErrorDetail(
        "must be an ISO 8601 date-time with an offset (2026-03-01T00:00:00Z) or a date "
        "(2026-03-01)", f"/{name}")])
    if len(value) > MAX_VALUE_LENGTH:
        raise problem
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(0), ZoneInfo(zone))
        else:
            moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise problem from exc
    if moment.tzinfo is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise problem
    return moment.astimezone(UTC)


def _single(name: str, required: bool) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ValidationFailed("invalid request", [ErrorDetail(f"give {name} once",
                                                               f"/{name}")])
    if not values or not values[0].strip():
        if required:
            raise ValidationFailed("invalid request", [ErrorDetail(f"{name} is required",
                                                                   f"/{name}")])
        return None
    return values[0].strip()


@calendar_api.get("")
def user_calendar() -> Response:
    _, subject = request_subject()
    unknown = [ErrorDetail(f"unknown parameter {name!r}; known: {', '.join(PARAMETERS)}",
                           f"/{escape(name)}") for name in request.args if name not in PARAMETERS]
    if unknown:
        raise ValidationFailed("invalid request", unknown)
    user = _single("user", False) or subject.user_id or ""
    if len(user) > MAX_VALUE_LENGTH:
        raise ValidationFailed("invalid user", [ErrorDetail("is not a user id", "/user")])
    zone = user_zone(web_runtime().engine, user)
    start = parse_moment(_single("from", True) or "", "from", zone)
    end = parse_moment(_single("to", True) or "", "to", zone)
    return jsonify(calendar_service().calendar(subject, user, start, end).to_json())


@calendar_api.get("/<user_id>.ics")
def user_feed(user_id: str) -> Response:
    runtime = web_runtime()
    missing = NotFound("there is no such calendar feed")
    if not calendar_feed.check_token(runtime.engine, user_id, request.args.get("token")):
        raise missing
    subject = runtime.services.subjects.subject_of(user_id)
    if subject is None:
        raise missing
    now = runtime.services.clock()
    start, end = calendar_feed.feed_range(now)
    found = calendar_service().calendar(subject, user_id, start, end, check_length=False)
    body = calendar_feed.render_feed(found.items, name=f"metacrm: {subject.username}",
                                     time_zone=found.time_zone, host=request.host, now=now)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{user_id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
