"""The webhook signature against Twilio's published example, and the telephony settings
read from the environment (the auth token never in a repr)."""

from __future__ import annotations

import pytest

from metacrm.settings import Settings, TelephonyNumber
from metacrm.telephony.twilio_signature import is_signed, signature

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
          "From": "+14158675309", "To": "+18005551212"}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
"""Twilio's example (auth token `12345`), as in its security docs and twilio-python's
RequestValidator tests."""


def test_the_signature_is_twilio_s_for_its_published_example() -> None:
    assert signature("12345", URL, PARAMS.items()) == EXPECTED
    assert is_signed("12345", URL, PARAMS.items(), EXPECTED)


@pytest.mark.parametrize(("token", "url", "params", "given"), [
    ("12345", URL, {**PARAMS, "Digits": "1235"}, EXPECTED),      # a changed parameter
    ("12345", URL.replace("https", "http"), PARAMS, EXPECTED),  # another URL
    ("54321", URL, PARAMS, EXPECTED),                           # another account's token
    ("12345", URL, PARAMS, None),                               # no header
    ("12345", URL, PARAMS, ""),
])
def test_anything_else_is_not_signed(token: str, url: str, params: dict[str, str],
                                     given: str | None) -> None:
    assert not is_signed(token, url, params.items(), given)


def test_telephony_settings_come_from_the_environment_and_hide_the_token() -> None:
    settings = Settings.from_env({
        "METACRM_TWILIO_ACCOUNT_SID": "AC123", "METACRM_TWILIO_AUTH_TOKEN": "s3cret-token",
        "METACRM_TELEPHONY_NUMBERS": " +12025550143 , +12025550144:noleads ",
        "METACRM_TWILIO_API_BASE": "http://127.0.0.1:9/"})

    telephony = settings.telephony
    assert telephony is not None
    assert telephony.numbers == (TelephonyNumber("+12025550143"),
                                 TelephonyNumber("+12025550144", create_leads=False))
    assert telephony.api_base == "http://127.0.0.1:9"
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in repr(telephony)


def test_without_an_account_sms_and_calls_are_off() -> None:
    assert Settings.from_env({"METACRM_TWILIO_ACCOUNT_SID": "AC123"}).telephony is None


@pytest.mark.parametrize("numbers", ["12025550143", "+1202-555-0143", "+12025550143:maybe"])
def test_a_malformed_number_stops_the_start_with_a_message(numbers: str) -> None:
    with pytest.raises(ValueError, match="METACRM_TELEPHONY_NUMBERS"):
        Settings.from_env({"METACRM_TWILIO_ACCOUNT_SID": "AC123",
                           "METACRM_TWILIO_AUTH_TOKEN": "t",
                           "METACRM_TELEPHONY_NUMBERS": numbers})
