"""The outbox page (`/app/admin/outbox`, admins only): the mail the CRM would have sent.

Shown when the process keeps mail instead of sending it (`OutboxMailChannel`, what
`metacrm demo` uses): the newest messages with their recipients, subject and text. With
real mail configured (SMTP) or none at all, the page says so instead.
"""

from __future__ import annotations

from flask import render_template

from metacrm.mail.outbox import OutboxMailChannel
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services

web_mail_outbox = screen_blueprint("web_mail_outbox", __name__, url_prefix="/app/admin")

SHOWN = 100


@web_mail_outbox.get("/outbox")
@admin_required
def outbox() -> str:
    channel = services().services.mail
    kept = isinstance(channel, OutboxMailChannel)
    messages = channel.messages(limit=SHOWN) if isinstance(channel, OutboxMailChannel) else []
    return render_template("metacrm/outbox.html", kept=kept, configured=channel is not None,
                           messages=messages, shown=SHOWN)
