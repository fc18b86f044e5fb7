"""Imports every screen module, so each makes its blueprint (`web.blueprints`)."""

from __future__ import annotations

from metacrm.web import account, auth, board, home, teams_admin
from metacrm.web.designer import changes

__all__ = ["account", "auth", "board", "changes", "home", "teams_admin"]
