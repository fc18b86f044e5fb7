"""The HTTPS and proxy settings read from the environment, and their refusals."""

from __future__ import annotations

import pytest

from metacrm.settings import Settings


def test_https_and_trusted_proxies_default_to_off() -> None:
    settings = Settings.from_env({})

    assert settings.https is False
    assert settings.trusted_proxies == 0


def test_https_and_trusted_proxies_are_read() -> None:
    settings = Settings.from_env({"METACRM_HTTPS": "true", "METACRM_TRUSTED_PROXIES": "2"})

    assert settings.https is True
    assert settings.trusted_proxies == 2


@pytest.mark.parametrize("value", ["-1", "one", "1.5", "11", "２"])
def test_a_bad_proxy_count_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match="METACRM_TRUSTED_PROXIES"):
        Settings.from_env({"METACRM_TRUSTED_PROXIES": value})


def test_a_bad_https_flag_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="METACRM_HTTPS"):
        Settings.from_env({"METACRM_HTTPS": "sometimes"})
