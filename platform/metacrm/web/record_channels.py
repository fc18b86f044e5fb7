"""The record page's panel for the packs' channels (Telegram…): write a message to the
record on a channel it has an address on, beside the email and SMS panels.

Thin: `metacrm.services.channels.messages` picks the channels that apply to the record (as
the user reads it), checks the rights, sends through the provider and logs the message as a
note on the record's timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import MetacrmError
from metacrm.services.channels.messages import PackChannelMessages
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import t

web_record_channels = screen_blueprint("web_record_channels", __name__, url_prefix="/app/r")


def _messages() -> PackChannelMessages:
    return PackChannelMessages(services().records, services().services.channels)


def channel_panel(entity: str, record: Mapping[str, Any]) -> list[dict[str, str]]:
    """The channels offered on the record page: `channel` and `label` ("Telegram")."""
    return [{"channel": offer.channel, "label": offer.channel.capitalize()}
            for offer in _messages().offers(entity, record)]


@web_record_channels.post("/<entity>/<record_id>/channel-message")
@login_required
def send(entity: str, record_id: str) -> BaseResponse:
    channel = request.form.get("channel", "")
    try:
        _messages().send(web_subject(), entity, record_id, channel,
                         request.form.get("text", ""))
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        details = "; ".join(f"{e.pointer}: {e.message}" for e in exc.errors) or exc.message
        flash(t("The message was not sent: %(reason)s", reason=details), "error")
    else:
        flash(t("The message was sent."), "success")
    return redirect(f"/app/r/{entity}/{record_id}")
