"""A pack sees only its declared settings, read-only."""

from __future__ import annotations

import pytest

from metacrm.extension import SettingNotDeclared
from metacrm.extension.testing import DeclaredSettings


def test_undeclared_key_is_refused_even_when_a_value_exists() -> None:
    settings = DeclaredSettings("vat", ["rates"], {"rates": {"DE": 19}, "bot_token": "x"})
    assert settings["rates"] == {"DE": 19}
    with pytest.raises(SettingNotDeclared) as caught:
        settings["bot_token"]
    assert "vat" in str(caught.value) and "bot_token" in str(caught.value)
    with pytest.raises(SettingNotDeclared):
        settings.get("bot_token")
    assert "bot_token" not in settings
    assert dict(settings) == {"rates": {"DE": 19}}


def test_declared_key_without_value_is_a_plain_missing_key() -> None:
    settings = DeclaredSettings("vat", ["rates", "default_rate"], {})
    assert settings.get("default_rate", 0) == 0
    with pytest.raises(KeyError):
        settings["default_rate"]


def test_settings_cannot_be_changed() -> None:
    settings = DeclaredSettings("vat", ["rates"], {"rates": 1})
    with pytest.raises(TypeError):
        settings["rates"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        settings._values = {}  # type: ignore[misc]  # slots: no new attributes either
    with pytest.raises(TypeError):
        settings._values["rates"] = 2  # type: ignore[index]
    nested = DeclaredSettings("vat", ["rates"], {"rates": {"DE": 19, "list": [1]}})
    with pytest.raises(TypeError):
        nested["rates"]["DE"] = 0
