"""Imports every screen module, so each makes its blueprint (`web.blueprints`)."""

from __future__ import annotations

from metacrm.web import (
    account,
    auth,
    board,
    home,
    notifications,
    record_form,
    record_list,
    record_page,
    teams_admin,
)
from metacrm.web.designer import (
    changes,
    entities,
    history,
    index,
    layouts,
    permissions,
    pipelines,
    triggers,
)

__all__ = ["account", "auth", "board", "changes", "entities", "history", "home", "index",
           "layouts", "notifications", "permissions", "pipelines", "record_form",
           "record_list", "record_page", "teams_admin", "triggers"]
