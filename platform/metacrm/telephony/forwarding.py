"""Forwarding an inbound call to a person: the TwiML the voice webhook answers with.

A call logged on a record with an owner is forwarded to that owner's own phone (the number
they keep on their profile, `metacrm_user_preferences.phone`) when they have one and are
still active: the answer is `<Dial>` to that number, with an `action` the provider calls
when the dial ends (`/api/v1/channels/voice/forwarded`). If the person answered, that
answer hangs up; if they did not (busy, no answer, failed), the caller hears they will be
called back — the same as when there is no one to forward to (a new lead from an unknown
number, an owner without a phone). The caller's number is kept as caller id, so the person
sees who is calling.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

DIAL_TIMEOUT_SECONDS = 20
"""How long the person's phone rings before the caller is told they will be called back."""
FORWARDED_PATH = "/api/v1/channels/voice/forwarded"
ANSWERED = "completed"
"""Twilio's `DialCallStatus` of a forwarded call that was answered (and has ended)."""

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
CALL_BACK_TWIML = (f"{HEAD}<Response><Say>Thank you for calling. We will call you back "
                   "shortly.</Say></Response>")
HANG_UP_TWIML = f"{HEAD}<Response><Hangup/></Response>"


def dial_twiml(number: str, action_url: str) -> str:
    """Ring `number` (E.164) and report the outcome to `action_url`."""
    return (f"{HEAD}<Response><Dial timeout=\"{DIAL_TIMEOUT_SECONDS}\" "
            f"action={quoteattr(action_url)} method=\"POST\"><Number>{escape(number)}"
            "</Number></Dial></Response>")


def after_dial_twiml(dial_status: str | None) -> str:
    """What the caller gets when the forwarded dial ended with `dial_status`."""
    return HANG_UP_TWIML if dial_status == ANSWERED else CALL_BACK_TWIML


class ForwardTargets:
    """Whose phone a call about a record owned by some user rings."""

    def __init__(self, phone_of: Callable[[str], str | None],
                 is_active: Callable[[str], bool]) -> None:
        self.phone_of = phone_of
        self.is_active = is_active

    def number(self, owner: str | None) -> str | None:
        """The owner's phone, or None (no owner, no phone, deactivated)."""
        if not owner or not self.is_active(owner):
            return None
        return self.phone_of(owner)
