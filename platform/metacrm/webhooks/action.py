"""The automation action `call_webhook`: one signed POST of the trigger's record to a URL.

Params: `url` (http or https; checked by the SSRF guard — its form and literal addresses
when the metadata is checked, everything including DNS at every call) and an optional
`secret` (`whsec_...`): with it the request carries Standard Webhooks signature headers,
without it only `webhook-id` and `webhook-timestamp`. The body:
`{"type": "automation.call_webhook", "timestamp", "data": {"version": 1, "trigger", "entity",
"id", "record", "previous", "event_id", "occurred_at"}}`; `webhook-id` is
`<trigger>:<event id>`, the same when an async trigger's run is retried. One attempt per
run: an answer other than 2xx (or none) fails the action (`WebhookCallFailed`, 502), and
the automation engine reports it — and retries async runs — like any failed action. A dry
run contacts nothing: it describes the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from math import floor
from typing import Any

from metacrm.automation.actions import ActionContext
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import ErrorDetail, MetacrmError
from metacrm.kernel.ids import new_id
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.webhooks.addresses import AddressGuard, UnsafeTarget
from metacrm.webhooks.payload import PAYLOAD_VERSION, encode
from metacrm.webhooks.sender import WebhookSender
from metacrm.webhooks.signing import secret_problem, signature_headers

ACTION_NAME = "call_webhook"
PARAMS = ("url", "secret")


class WebhookCallFailed(MetacrmError):
    """The webhook of a `call_webhook` action was refused or did not answer 2xx."""

    status = 502
    title = "Bad gateway"


class CallWebhookAction:
    """`call_webhook` (see the module docstring)."""

    name = ACTION_NAME

    def __init__(self, sender: WebhookSender,
                 wall_clock: Clock = utc_now) -> None:
        self.sender = sender
        self._wall_clock = wall_clock

    @property
    def guard(self) -> AddressGuard:
        return self.sender.guard

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        if not isinstance(params, Mapping):
            return [ErrorDetail("must be an object with url (and secret)", "")]
        errors = [ErrorDetail(f"unknown parameter {key!r}; use: {', '.join(PARAMS)}",
                              f"/{key}") for key in params if key not in PARAMS]
        url = params.get("url")
        if not isinstance(url, str):
            errors.append(ErrorDetail("is required: the http or https URL to call", "/url"))
        else:
            try:
                self.guard.check_static(url)
            except UnsafeTarget as exc:
                errors.append(ErrorDetail(str(exc), "/url"))
        if "secret" in params and (problem := secret_problem(params["secret"])) is not None:
            errors.append(ErrorDetail(problem, "/secret"))
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        url = str(params["url"])
        body = self.body(context)
        message_id = (f"{context.trigger.name}:{context.event.id}" if context.event is not None
                      else f"{context.trigger.name}:{new_id()}")
        if context.dry_run:
            return {"would_call": url, "webhook_id": message_id,
                    "signed": "secret" in params, "body": body}
        text = encode(body)
        timestamp = self._wall_clock()
        secret = params.get("secret")
        headers = (signature_headers([str(secret)], message_id, timestamp, text)
                   if secret else {"webhook-id": message_id,
                                   "webhook-timestamp": str(floor(timestamp.timestamp()))})
        result = self.sender.post(url, text.encode("utf-8"), headers)
        if not result.delivered:
            raise WebhookCallFailed(f"call_webhook to {url} failed: {result.describe()}",
                                    [ErrorDetail(result.describe(), "/url")])
        return {"called": url, "webhook_id": message_id, "status_code": result.status_code,
                "latency_ms": result.latency_ms}

    @staticmethod
    def body(context: ActionContext) -> dict[str, Any]:
        occurred = context.event.created_at if context.event is not None else context.now
        occurred_at = datetime_to_json(occurred or datetime.now(UTC))
        return {
            "type": "automation.call_webhook",
            "timestamp": occurred_at,
            "data": {
                "version": PAYLOAD_VERSION,
                "trigger": context.trigger.name,
                "entity": context.entity,
                "id": str(context.record.get("id")),
                "record": dict(context.record),
                "previous": dict(context.previous),
                "event_id": None if context.event is None else context.event.id,
                "occurred_at": occurred_at,
            },
        }
