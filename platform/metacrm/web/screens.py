"""Imports every screen module, so each makes its blueprint (`web.blueprints`)."""

from __future__ import annotations

from metacrm.web import (
    account,
    auth,
    board,
    bookmarks,
    home,
    mail_outbox_page,
    mass_update,
    notifications,
    profile,
    record_conversion,
    record_form,
    record_list,
    record_page,
    search_page,
    teams_admin,
)
from metacrm.web.designer import (
    changes,
    entities,
    history,
    index,
    layouts,
    packs,
    permissions,
    pipelines,
    triggers,
)

__all__ = [
    "account",
    "auth",
    "board",
    "bookmarks",
    "changes",
    "entities",
    "history",
    "home",
    "index",
    "layouts",
    "mail_outbox_page",
    "mass_update",
    "notifications",
    "packs",
    "permissions",
    "pipelines",
    "profile",
    "record_conversion",
    "record_form",
    "record_list",
    "record_page",
    "search_page",
    "teams_admin",
    "triggers",
]
