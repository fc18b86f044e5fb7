"""The iCal feed section of the profile page: create (or replace) and revoke the user's
calendar feed token (`services.calendar.feed`).

The token is shown once, in the feed address on the page answering the creation; only its
hash is kept, so a lost address is replaced, never shown again. Both actions are POSTs
behind the screens' CSRF check.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.services.calendar import feed as calendar_feed
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_actor
from metacrm.web.i18n import t

web_calendar_feed = screen_blueprint("web_calendar_feed", __name__,
                                     url_prefix="/app/account/calendar-feed")

TEMPLATE = "metacrm/calendar_feed.html"


def _user_id() -> str:
    actor = web_actor()
    assert actor is not None  # login_required
    return actor.user_id


@web_calendar_feed.post("")
@login_required
def create() -> tuple[str, int]:
    """A new feed token (the former one stops working); its address is shown once."""
    user_id = _user_id()
    token = calendar_feed.create_token(services().engine, user_id)
    address = url_for("metacrm_calendar.user_feed", user_id=user_id, token=token,
                      _external=True)
    webcal = "webcal://" + address.split("://", 1)[1]
    return render_template(TEMPLATE, address=address, webcal=webcal), 201


@web_calendar_feed.post("/revoke")
@login_required
def revoke() -> BaseResponse:
    """Delete the token: the feed's address stops working at once."""
    if calendar_feed.revoke_token(services().engine, _user_id()):
        flash(t("Calendar feed turned off: its address no longer works."), "success")
    return redirect(url_for("web_profile.profile") + "#calendar-feed", code=303)

