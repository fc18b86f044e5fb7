"""The mailing page's sending actions: send a test, schedule, send now, pause, resume,
cancel — the screens' side of `POST /api/v1/records/mailing/<id>/<action>`
(`metacrm.api.mailings`), through the same `MailingService`.

Thin: the service checks the rights (update the mailing; a test: read it) and the status.
The page offers only the actions the mailing's status allows, and only to a user who may
update the mailing; a forged post is refused by the service all the same (403 / 404 page).
A refusal the user can fix — the wrong status (409), a bad address or time, a mailing
that cannot be sent yet (422), an SMTP server that does not answer — comes back as a
message on the mailing's page, never as an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.marketing.mailings.ledger import MAILING
from metacrm.marketing.mailings.service import MailServerRefused
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import t, utc_datetime

web_mailing_actions = screen_blueprint("web_mailing_actions", __name__,
                                       url_prefix=f"/app/r/{MAILING}")

ALLOWED_IN: dict[str, tuple[str, ...]] = {
    "test": ("draft", "scheduled", "paused"),
    "schedule": ("draft",),
    "send": ("draft",),
    "pause": ("scheduled", "sending"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "sending", "paused"),
}
"""Action -> the statuses in which the page offers it (the service's own rules)."""


def mailing_actions(entity: str, record: Mapping[str, Any], may_update: bool
                    ) -> frozenset[str]:
    """The actions the mailing page offers on `record` (none on other entities, or to a
    user who may not update the mailing)."""
    if entity != MAILING or not may_update:
        return frozenset()
    status = record.get("status")
    return frozenset(action for action, statuses in ALLOWED_IN.items() if status in statuses)


def _reason(exc: MetacrmError) -> str:
    """What to tell the user: the common refusals in their language, others as the
    service explains them."""
    pointers = {e.pointer for e in exc.errors}
    if isinstance(exc, Conflict):
        return t("the mailing's status does not allow this (any more)")
    if isinstance(exc, MailServerRefused):
        return t("the mail server answered: %(answer)s", answer=exc.answer)
    if "/address" in pointers:
        return t("enter an email address")
    if "/at" in pointers:
        return t("choose a date and time")
    return "; ".join(e.message for e in exc.errors) or exc.message


def _when(text: str) -> datetime | None:
    """A datetime-local value in the user's time zone, as UTC (None: not a date-time)."""
    try:
        return utc_datetime(datetime.fromisoformat(text.strip()))
    except (ValueError, OverflowError):
        return None


def _perform(action: str, record_id: str) -> str:
    """Do `action`; the success message."""
    service = services().services.mailings
    subject = web_subject()
    if action == "test":
        address = request.form.get("address", "").strip()
        service.send_test(subject, record_id, address)
        return t("A test was sent to %(address)s.", address=address)
    if action == "schedule":
        when = _when(request.form.get("at", ""))
        if when is None:
            raise ValidationFailed("invalid schedule", [ErrorDetail("when to send", "/at")])
        service.schedule(subject, record_id, when)
        return t("The mailing is scheduled.")
    if action == "send":
        service.schedule(subject, record_id, None)
        return t("The mailing is being sent.")
    if action == "pause":
        service.pause(subject, record_id)
        return t("The mailing is paused.")
    if action == "resume":
        service.resume(subject, record_id)
        return t("The mailing goes on.")
    service.cancel(subject, record_id)
    return t("The mailing is cancelled.")


@web_mailing_actions.post("/<record_id>/sending/<action>")
@login_required
def mailing_action(record_id: str, action: str) -> BaseResponse:
    if action not in ALLOWED_IN:
        raise NotFound(f"a mailing has no action {action!r}")
    page = f"/app/r/{MAILING}/{record_id}"
    try:
        flash(_perform(action, record_id), "success")
    except MetacrmError as exc:
        if exc.status in (403, 404):
            raise
        flash(t("Not done: %(reason)s", reason=_reason(exc)), "error")
    return redirect(page)
