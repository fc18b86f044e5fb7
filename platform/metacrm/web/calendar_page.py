"""The calendar screen, `/app/calendar`: a day, week or month of a user's meetings and
tasks (the calendar service: their own, or a team member's within the viewer's read
scope), in the viewer's time zone.

`?view=day|week|month&date=YYYY-MM-DD&user=<id>`. Days are the viewer's wall-clock days, so
a week across a DST change has a 23- or 25-hour day and still seven columns. Each day (and
each hour of the day view) links to the meeting form prefilled with that moment; the page
script (`calendar.js`) turns a drag onto another day or hour into a PATCH of the record
through the records API with `If-Match`, and shows a refusal's translated message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.calendar.service import (
    CalendarItem,
    CalendarService,
    calendar_sources,
    covers_owner,
)
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.form_fields import active_users
from metacrm.web.i18n import current_time_zone, t

web_calendar = screen_blueprint("web_calendar", __name__, url_prefix="/app/calendar")

TEMPLATE = "metacrm/calendar.html"
VIEWS = ("day", "week", "month")
MEETING = "meeting"


@dataclass(frozen=True)
class ShownItem:
    """An item as the page places it: its local start, and what the script needs."""

    item: CalendarItem
    local_start: datetime
    local_end: datetime
    etag: str
    href: str


@dataclass(frozen=True)
class Day:
    day: date
    in_month: bool
    items: tuple[ShownItem, ...]
    new_href: str | None


def view_range(view: str, anchor: date) -> tuple[date, date]:
    """The first day shown and the day after the last (weeks start on Monday)."""
    if view == "day":
        return anchor, anchor + timedelta(days=1)
    if view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return monday, monday + timedelta(days=7)
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    following = (first + timedelta(days=32)).replace(day=1)
    end = following + timedelta(days=(7 - following.weekday()) % 7)
    return start, end


def step(view: str, anchor: date, forward: bool) -> date:
    """The anchor of the previous or next page."""
    sign = 1 if forward else -1
    if view == "day":
        return anchor + timedelta(days=sign)
    if view == "week":
        return anchor + timedelta(days=7 * sign)
    month = anchor.month - 1 + sign
    return date(anchor.year + month // 12, month % 12 + 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _anchor(text: str | None, zone: ZoneInfo) -> date:
    if not text:
        return services().records.now().astimezone(zone).date()
    problem = ValidationFailed(t("invalid date"), [ErrorDetail(
        t("Give the date as YYYY-MM-DD."), "/date")])
    try:
        anchor = date.fromisoformat(text[:10])
    except ValueError as exc:
        raise problem from exc
    if not 1900 <= anchor.year <= 2999:
        raise problem
    return anchor


def new_meeting_href(moment: datetime) -> str:
    """The meeting form, its start filled in (a wall-clock time in the viewer's zone)."""
    return "/app/r/meeting/new?" + urlencode({"starts_at": moment.strftime("%Y-%m-%dT%H:%M")})


@web_calendar.get("")
@login_required
def calendar_page() -> tuple[str, int] | BaseResponse:
    subject = web_subject()
    zone_name = current_time_zone()
    zone = ZoneInfo(zone_name)
    view = request.args.get("view", "week")
    view = view if view in VIEWS else "week"
    anchor = _anchor(request.args.get("date"), zone)
    user = (request.args.get("user") or subject.user_id or "")[:64]
    first, after = view_range(view, anchor)
    runtime = services().records.runtime()
    found = CalendarService(services().records).calendar(
        subject, user, local_midnight(first, zone), local_midnight(after, zone),
        check_length=False)
    can_create = runtime.policy.scope(subject, MEETING, "create").allowed \
        and runtime.model.entity(MEETING) is not None
    shown = [_shown(item, zone) for item in found.items]
    days = []
    day = first
    while day < after:
        items = tuple(s for s in shown if _on_day(s, day))
        days.append(Day(day, day.month == anchor.month or view != "month", items,
                        new_meeting_href(datetime.combine(day, time(9)))
                        if can_create else None))
        day += timedelta(days=1)
    hours = [(hour, new_meeting_href(datetime.combine(anchor, time(hour))) if can_create
              else None) for hour in range(24)] if view == "day" else []
    return render_template(
        TEMPLATE, view=view, anchor=anchor, days=days, hours=hours, user=user,
        zone_name=zone_name, members=_members(subject), own=user == subject.user_id,
        previous=step(view, anchor, False), following=step(view, anchor, True),
        today=services().records.now().astimezone(zone).date(), truncated=found.truncated,
        calendar_user_zone=found.time_zone), 200


def _shown(item: CalendarItem, zone: ZoneInfo) -> ShownItem:
    record = item.record
    version = record.get("version")
    return ShownItem(item, item.start.astimezone(zone), item.end.astimezone(zone),
                     f'"{item.id}:{version}"' if version is not None else "",
                     f"/app/r/{item.entity}/{item.id}")


def _on_day(shown: ShownItem, day: date) -> bool:
    """Whether the item shows on this local day: an all-day item on its date, a timed one
    on every day it overlaps."""
    if shown.item.all_day:
        return shown.item.day == day
    last = (shown.local_end - timedelta(microseconds=1)).date()
    return shown.local_start.date() <= day <= max(last, shown.local_start.date())


def _members(subject: AccessSubject) -> list[tuple[str, str]]:
    """Users whose calendar the viewer may open (their read scope covers their records)."""
    runtime = services().records.runtime()
    scopes = [runtime.policy.scope(subject, source.entity, "read")
              for source in calendar_sources(runtime.model)]
    return [(user_id, name) for user_id, name in active_users(services().engine)
            if user_id == subject.user_id
            or any(covers_owner(scope, subject, user_id) for scope in scopes)]
