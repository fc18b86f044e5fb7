"""OpenAPI paths and schemas of the calendar API (`metacrm.api.calendar`)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import READ_ERRORS, errors, json_answer
from metacrm.api.openapi_schemas import ref

Schema = dict[str, Any]
CALENDAR = "/api/v1/calendar"
CALENDAR_TAG = {"name": "calendar",
                "description": "Meetings and tasks by date; each user's iCal feed."}
_MOMENT = {"type": "string", "maxLength": 64,
           "description": "An RFC 3339 date-time with an offset, or a date (midnight in the "
                          "user's time zone)."}


def calendar_schemas() -> dict[str, Schema]:
    """`CalendarItem` and `Calendar`."""
    moment = {"type": "string", "format": "date-time"}
    return {
        "CalendarItem": {
            "type": "object",
            "required": ["entity", "id", "title", "start", "end", "all_day", "date", "record"],
            "properties": {
                "entity": {"type": "string", "description": "meeting, task, or another "
                                                           "entity reminding its owner"},
                "id": {"type": "string"}, "title": {"type": "string"},
                "start": moment, "end": moment,
                "all_day": {"type": "boolean",
                            "description": "A date (a task's due date): the whole day of "
                                           "`date` in the user's zone."},
                "date": {"type": ["string", "null"], "format": "date"},
                "record": {"type": "object",
                           "description": "The record as the records API returns it to "
                                          "the caller (hidden fields left out)."},
            },
        },
        "Calendar": {
            "type": "object",
            "required": ["user", "time_zone", "from", "to", "truncated", "data"],
            "additionalProperties": False,
            "properties": {
                "user": {"type": "string"},
                "time_zone": {"type": "string", "description": "The user's IANA time zone "
                                                               "(their profile; UTC by "
                                                               "default). Times are UTC."},
                "from": moment, "to": moment,
                "truncated": {"type": "boolean",
                              "description": "More items exist than one answer carries."},
                "data": {"type": "array", "items": ref("CalendarItem")},
            },
        },
    }


def calendar_paths() -> dict[str, Any]:
    tag = {"tags": ["calendar"]}
    return {
        CALENDAR: {"get": {
            **tag, "operationId": "user_calendar",
            "summary": "A user's meetings and tasks in a range",
            "description": "Items owned by the user whose moment falls in [from, to) (at "
                           "most 62 days), read within the caller's read scope. Another "
                           "user's calendar needs a read scope covering their records "
                           "(403 otherwise). See docs/communications.md, calendar.",
            "parameters": [
                {"name": "from", "in": "query", "required": True, "schema": _MOMENT},
                {"name": "to", "in": "query", "required": True, "schema": _MOMENT},
                {"name": "user", "in": "query", "required": False,
                 "description": "A user id (default: the caller).",
                 "schema": {"type": "string", "maxLength": 64}},
            ],
            "responses": {"200": json_answer("The calendar.", ref("Calendar")),
                          **errors(*READ_ERRORS)},
        }},
        f"{CALENDAR}/{{user}}.ics": {"get": {
            **tag, "operationId": "user_calendar_feed", "security": [],
            "summary": "A user's iCal feed (RFC 5545), read-only",
            "description": "Authenticated by the feed token the user created on their "
                           "profile page. An unknown user, a revoked or a wrong token are "
                           "all answered 404.",
            "parameters": [
                {"name": "user", "in": "path", "required": True,
                 "schema": {"type": "string", "maxLength": 64}},
                {"name": "token", "in": "query", "required": True,
                 "schema": {"type": "string", "maxLength": 256}},
            ],
            "responses": {
                "200": {"description": "The feed.",
                        "content": {"text/calendar": {"schema": {"type": "string"}}}},
                **errors("404", "429"),
            },
        }},
    }
