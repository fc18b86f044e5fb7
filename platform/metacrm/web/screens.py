"""Imports every screen module, so each makes its blueprint (`web.blueprints`)."""

from __future__ import annotations

from metacrm.web import auth, home
from metacrm.web.designer import changes

__all__ = ["auth", "changes", "home"]
