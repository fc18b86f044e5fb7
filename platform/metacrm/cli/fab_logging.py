"""Flask-AppBuilder's log level for command-line use."""

from __future__ import annotations

import logging


def quiet_fab() -> None:
    """Flask-AppBuilder logs setup chatter as warnings (e.g. "No user yet created, use flask
    fab command", wrong advice here); a command-line user needs only its errors."""
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
