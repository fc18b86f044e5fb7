"""`install(services)`: SMS and calls when a Twilio-compatible account is set.

Registers `services.telephony` (`TelephonyFeature`, None without `METACRM_TWILIO_*`), the
`sms` provider in the channel registry and the `sms` record sender (so `POST …/messages`
with `channel: sms` reaches it), and the forwarding of inbound calls to the phone of the
caller's record's owner (`telephony.forwarding`). Status callbacks point at `METACRM_PUBLIC_URL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metacrm.services.users.preferences import saved_phone
from metacrm.settings import TelephonySettings
from metacrm.telephony.forwarding import ForwardTargets
from metacrm.telephony.intake import TelephonyIntake
from metacrm.telephony.outbound import TelephonyOutbound
from metacrm.telephony.provider import CHANNEL, SmsProvider
from metacrm.telephony.twilio_client import TwilioClient

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "telephony"
INBOUND_PATHS = {"sms": "/api/v1/channels/sms/inbound",
                 "voice": "/api/v1/channels/voice/inbound"}
STATUS_PATHS = {"sms": "/api/v1/channels/sms/status", "voice": "/api/v1/channels/voice/status"}


@dataclass(frozen=True)
class TelephonyFeature:
    settings: TelephonySettings
    provider: SmsProvider
    intake: TelephonyIntake
    outbound: TelephonyOutbound
    public_url: str
    forwarding: ForwardTargets | None = None
    """Whose phone an inbound call rings (None: nobody's; the caller is called back)."""


def install(services: Services) -> None:
    settings = services.settings.telephony
    if settings is None:
        services.telephony = None
        return
    public = services.settings.public_url
    callbacks = {kind: public + path for kind, path in STATUS_PATHS.items()}
    client = TwilioClient(settings)
    sender = settings.numbers[0].number if settings.numbers else None
    provider = SmsProvider(client, sender, callbacks["sms"])
    intake = TelephonyIntake(services.records, settings, provider, lambda: services.clock())
    outbound = TelephonyOutbound(services.records, settings, client, callbacks,
                                 lambda: services.clock())
    forwarding = ForwardTargets(
        lambda user: saved_phone(services.engine, user),
        lambda user: services.subjects.subject_of(user) is not None)
    services.telephony = TelephonyFeature(settings, provider, intake, outbound, public,
                                          forwarding)
    services.channels.register(CHANNEL, provider)
    services.channels.register_record_sender(CHANNEL, outbound)
