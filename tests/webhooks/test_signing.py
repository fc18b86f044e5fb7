"""Secrets and signatures follow Standard Webhooks: the reference package verifies them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from metacrm.webhooks.signing import new_secret, secret_problem, signature_headers


def test_new_secrets_are_valid_random_whsec_secrets() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert secret_problem(first) is None


@pytest.mark.parametrize(("secret", "why"), [
    (None, "whsec_"),
    (42, "whsec_"),
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_"),
    ("whsec_not base64!", "base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64"),
    ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24 to 64"),
])
def test_bad_secrets_are_refused_with_a_reason(secret: object, why: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None and why in problem


def test_a_body_signed_with_two_secrets_verifies_with_either_and_nothing_else() -> None:
    old, new, stranger = new_secret(), new_secret(), new_secret()
    body = json.dumps({"type": "record.created", "data": {"id": "1"}})
    headers = signature_headers([new, old], "evt_1", datetime.now(UTC), body)

    assert headers["webhook-id"] == "evt_1"
    assert Webhook(old).verify(body, headers) == json.loads(body)
    assert Webhook(new).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + " ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body, {**headers, "webhook-id": "evt_2"})


def test_the_timestamp_is_the_signing_moment_and_stale_ones_are_refused() -> None:
    secret = new_secret()
    local = datetime.now(timezone(timedelta(hours=3)))  # the header is Unix seconds
    headers = signature_headers([secret], "evt_1", local, "{}")
    assert abs(int(headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 5
    Webhook(secret).verify("{}", headers)

    stale = signature_headers([secret], "evt_1", datetime.now(UTC) - timedelta(hours=1), "{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify("{}", stale)
