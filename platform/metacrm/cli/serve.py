"""`metacrm serve`: the web app on Flask's development server, and `run_app`, which `metacrm
demo` serves its own instance with. Embedded (no Redis), a scheduler thread of the same
process handles retries, orphaned work items and time triggers."""

from __future__ import annotations

import click

from metacrm.cli.fab_logging import quiet_fab
from metacrm.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Run the web app on Flask's development server (production: gunicorn, see
    docs/operations.md)."""
    run_app(Settings.from_env(), host, port)


def run_app(settings: Settings, host: str, port: int) -> None:
    """Serve the app of `settings` until interrupted (`serve`, and `demo` on its own
    database)."""
    quiet_fab()
    from metacrm.api import RUNTIME_KEY
    from metacrm.app import create_app, dispose_app
    from metacrm.jobs.scheduler import start_background_scheduler

    app = create_app(settings)
    background = None
    if not settings.redis_url:
        # Embedded: no worker or scheduler process runs, so retries, orphaned work items
        # and time triggers are handled by a scheduler thread of this process.
        background = start_background_scheduler(app.extensions[RUNTIME_KEY].services)
    try:
        app.run(host=host, port=port)
    finally:
        if background is not None:
            thread, stop = background
            stop.set()
            thread.join(timeout=30)
        dispose_app(app)
