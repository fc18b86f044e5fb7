"""SMS and calls through a Twilio-compatible HTTP API (issue 15's telephony channel).

`install(services)` registers `services.telephony` when `METACRM_TWILIO_*` is set: the
`sms` channel provider, the sender of SMS from records, click-to-call, and the intake of
inbound SMS, calls and status callbacks (docs/communications.md).
"""
