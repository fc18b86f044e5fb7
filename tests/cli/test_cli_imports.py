"""Importing the CLI stays cheap: the identity provider is loaded only by what needs it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_does_not_load_flask_appbuilder() -> None:
    """The port keeps FAB out of automation, webhooks and the CLI: only the processes that
    build services (or the web app) load it."""
    probe = ("import sys, metacrm.cli.main; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'flask_appbuilder'))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
