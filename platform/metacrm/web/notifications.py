"""The notifications page, `/app/notifications`, and the bell's count in the top bar.

The same service as `GET /api/v1/notifications` (`metacrm.notifications`): each notice only
while the user may read its record, titled as the user may see it. Marking read is a form
post answered with a redirect, so reloading the page never posts again. The page also
keeps the user's notification settings: how early reminders come, whether they are also
mailed, and the daily email digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import ValidationFailed
from metacrm.notifications.preferences import (
    DIGEST_CHOICES,
    MAX_REMINDER_MINUTES,
    NotificationPreferences,
)
from metacrm.notifications.service import Notification, NotificationService
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_actor, web_subject
from metacrm.web.i18n import format_datetime, label, t
from metacrm.web.record_page import record_url
from metacrm.web.values import record_title

web_notifications = screen_blueprint("web_notifications", __name__,
                                     url_prefix="/app/notifications")

PAGE_SIZE = 50


@dataclass(frozen=True)
class NoticeRow:
    id: str
    text: str
    title: str
    entity_label: str
    href: str | None
    created_at: object
    unread: bool


def _service() -> NotificationService:
    return services().services.notifications


def unread_badge() -> int:
    """How many unread notifications the signed-in user may see (0 when signed out)."""
    if web_actor() is None:
        return 0
    return _service().unread_count(web_subject())


@web_notifications.get("")
@login_required
def page() -> str:
    return _render(_service().preferences(web_subject()), {})


def _render(settings: NotificationPreferences | dict[str, object], errors: dict[str, str]
            ) -> str:
    unread_only = request.args.get("show") == "unread"
    cursor = request.args.get("cursor") or None
    listed = _service().list(web_subject(), unread_only=unread_only, limit=PAGE_SIZE,
                             cursor=cursor)
    rows = [_row(item) for item in listed.items]
    if isinstance(settings, NotificationPreferences):
        settings = {"reminder_minutes": str(settings.reminder_minutes),
                    "notification_digest": settings.notification_digest,
                    "reminder_email": settings.reminder_email}
    return render_template("metacrm/notifications.html", rows=rows, unread=listed.unread,
                           unread_only=unread_only, next_cursor=listed.next_cursor,
                           settings=settings, errors=errors, digest_choices=DIGEST_CHOICES,
                           max_reminder_minutes=MAX_REMINDER_MINUTES,
                           saved=bool(request.args.get("saved")))


@web_notifications.post("/settings")
@login_required
def save_settings() -> BaseResponse | tuple[str, int]:
    """Keep the reminder lead, the reminder email and the digest choice; a bad value is
    shown beside its field."""
    form: dict[str, object] = {
        "reminder_minutes": request.form.get("reminder_minutes", ""),
        "notification_digest": request.form.get("notification_digest", ""),
        "reminder_email": bool(request.form.get("reminder_email"))}
    try:
        _service().save_preferences(web_subject(), form["reminder_minutes"],
                                    form["notification_digest"], form["reminder_email"])
    except ValidationFailed as error:
        messages = {
            "/reminder_minutes": t("Enter a whole number of minutes from 0 to %(max)s.",
                                   max=MAX_REMINDER_MINUTES),
            "/notification_digest": t("Choose whether to get the daily email."),
        }
        errors = {detail.pointer.lstrip("/"): messages[detail.pointer]
                  for detail in error.errors if detail.pointer in messages}
        return _render(form, errors), 422
    return redirect(url_for("web_notifications.page", saved=1))


@web_notifications.post("/read")
@login_required
def mark_read() -> BaseResponse:
    ids = [value for value in request.form.getlist("id") if value]
    _service().mark_read(web_subject(), None if request.form.get("all") else ids)
    return redirect(url_for("web_notifications.page",
                            show=request.form.get("show") or None))


def _row(item: Notification) -> NoticeRow:
    stored = item.stored
    model = services().records.runtime().model
    entity = model.entity(stored.entity) if stored.entity else None
    title = record_title(entity, item.record) if entity and item.record else ""
    if stored.kind == "assigned":
        text = t("Assigned to you")
    elif stored.kind == "reminder":
        moment = _moment(stored.message)
        text = (t("Due at %(moment)s", moment=format_datetime(moment)) if moment is not None
                else t("Due soon"))
    else:
        text = stored.message or t("A message from an automation")
    href = (record_url(entity.name, stored.record_id)
            if entity is not None and stored.record_id else None)
    return NoticeRow(id=stored.id, text=text, title=title,
                     entity_label=label(entity.label, entity.name) if entity else "",
                     href=href, created_at=stored.created_at, unread=stored.read_at is None)


def _moment(text: str | None) -> datetime | None:
    """A reminder's due moment (its message: RFC 3339 UTC); None for older reminders."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
