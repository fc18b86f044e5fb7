"""Telling a subscription's owner, by email, that their webhook was disabled.

The address is the owner's email in the user directory (the `kernel.users` port).
Users created without one have `<name>@users.metacrm.invalid`, where nothing is ever sent;
without a mail channel (`METACRM_SMTP_URL` unset) the notice goes to the log only.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from metacrm.kernel.jobs import MailChannel, MailMessage
from metacrm.kernel.users import UserDirectory
from metacrm.webhooks.subscriptions import Subscription

_log = logging.getLogger(__name__)

UNDELIVERABLE_DOMAIN = ".invalid"


def disabled_message(subscription: Subscription, address: str, reason: str) -> MailMessage:
    text = (
        "Your metacrm webhook was disabled.\n\n"
        f"URL: {subscription.url}\n"
        f"Webhook id: {subscription.id}\n"
        f"Reason: {reason}\n\n"
        "Nothing more is sent to it. Once the receiver works again, enable the webhook "
        f"(PATCH /api/v1/webhooks/{subscription.id} with {{\"enabled\": true}}); past "
        "deliveries can be sent again from its delivery log "
        f"(GET /api/v1/webhooks/{subscription.id}/deliveries, then POST .../redeliver).\n"
    )
    return MailMessage(to=(address,), subject="metacrm: your webhook was disabled", text=text)


def notify_disabled(
    engine: sa.Engine, users: UserDirectory, mail: MailChannel | None,
    subscription: Subscription, reason: str,
) -> bool:
    """Email the owner that `subscription` was disabled; True when the mail was accepted.
    Never raises: the subscription is disabled whether or not the owner can be told."""
    with engine.connect() as conn:
        address = users.email_of(conn, subscription.owner)
    if mail is None:
        _log.warning("webhook %s disabled (%s); no mail channel is configured to tell its "
                     "owner %s", subscription.id, reason, subscription.owner)
        return False
    if address is None or address.lower().endswith(UNDELIVERABLE_DOMAIN):
        _log.warning("webhook %s disabled (%s); its owner %s has no email address",
                     subscription.id, reason, subscription.owner)
        return False
    try:
        mail.send(disabled_message(subscription, address, reason))
    except Exception:
        _log.exception("webhook %s disabled; telling its owner at %s failed",
                       subscription.id, address)
        return False
    return True
