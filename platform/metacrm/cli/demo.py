"""`metacrm demo`: a working CRM with demo data in one command (the README's first one).

It uses its own SQLite database, `demo.db` in the instance folder — unless
METACRM_DATABASE_URL names one — applies the metadata packs like `metacrm init`, loads the
demo data set from `seed/` when the database has no records yet (`metacrm.seeding`), prints
the URL and the demo logins and serves the app like `metacrm serve`. Outgoing mail is kept
in the database and shown to admins at `/app/admin/outbox` (`Settings.mail_outbox`) — unless
METACRM_SMTP_URL names a server, which then gets it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from metacrm.cli.bootstrap import lifecycle_of, open_runtime
from metacrm.cli.errors import reports_errors
from metacrm.cli.fab_logging import quiet_fab
from metacrm.cli.serve import run_app
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.mail import OUTBOX_DATABASE
from metacrm.seeding import DemoData, DemoLoad, read_demo_data, seed_database
from metacrm.settings import Settings

DEMO_DATABASE = "demo.db"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--reset", is_flag=True,
              help=f"Delete the demo database (instance/{DEMO_DATABASE}) first.")
@click.option("--no-serve", is_flag=True,
              help="Prepare the database and print the logins, but do not serve.")
@reports_errors
def demo(host: str, port: int, reset: bool, no_serve: bool) -> None:
    """Create a demo database with the shipped packs and demo data, then serve it."""
    quiet_fab()
    settings, own_database = demo_settings(Settings.from_env())
    if reset:
        if not own_database:
            raise ValidationFailed(
                "--reset only deletes the demo's own SQLite database; METACRM_DATABASE_URL "
                "is set, so nothing was deleted",
                [ErrorDetail("unset it, or reset that database yourself",
                             "METACRM_DATABASE_URL")])
        delete_demo_database(settings)
    data = read_demo_data()
    version = apply_packs(settings)
    where = settings.database_url.split("@")[-1]
    click.echo(f"Database {where} is at metadata version {version}.")
    load = seed_database(settings, data=data)
    click.echo(describe_load(load))
    if not load.loaded and not own_database:
        click.echo("The logins below exist only if `metacrm demo` set up this database.")
    if not settings.smtp_url:
        click.echo(f"Mail is not sent: it is kept in {settings.instance_path / OUTBOX_DATABASE} "
                   "and admins read it at /app/admin/outbox.")
    click.echo("")
    click.echo(describe_logins(data, f"http://{host}:{port}/app/", load))
    if no_serve:
        return
    run_app(settings, host, port)


def demo_settings(settings: Settings) -> tuple[Settings, bool]:
    """`settings` on the demo database, and whether that is the demo's own SQLite file:
    the default database (no METACRM_DATABASE_URL) is replaced by `demo.db`, so the demo
    never mixes its data into the database `metacrm init` set up. Mail goes to the outbox."""
    settings = dataclasses.replace(settings, mail_outbox=True)
    default = Settings.from_env({"METACRM_INSTANCE_PATH": str(settings.instance_path)})
    if settings.database_url != default.database_url:
        return settings, False
    url = f"sqlite:///{demo_database_path(settings)}"
    return dataclasses.replace(settings, database_url=url), True


def demo_database_path(settings: Settings) -> Path:
    return settings.instance_path / DEMO_DATABASE


def delete_demo_database(settings: Settings) -> None:
    """Delete the demo SQLite file and the mail outbox, with their write-ahead logs (nothing
    when they are missing)."""
    for path in (demo_database_path(settings), settings.instance_path / OUTBOX_DATABASE):
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def apply_packs(settings: Settings) -> int:
    """Apply the metadata packs as `metacrm init` does; the live metadata version."""
    with open_runtime(settings) as runtime:
        runtime.metadata.initialize()
        lifecycle = lifecycle_of(runtime)
        lifecycle.sync(lifecycle.shipped(), comment="metacrm demo")
        return runtime.metadata.live().number


def describe_load(load: DemoLoad) -> str:
    counts = ", ".join(f"{entity} {count}" for entity, count in load.counts.items())
    if load.loaded:
        return f"Demo data loaded in {load.seconds:.1f} s ({counts})."
    return f"The database already has records ({counts}); the demo data was not loaded again."


def describe_logins(data: DemoData, url: str, load: DemoLoad) -> str:
    """The URL and a table of the demo users: username, password, role, teams."""
    rows = [("username", "password", "role", "team")]
    rows += [(user.username, data.password, user.role, ", ".join(user.teams) or "-")
             for user in data.users]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [f"metacrm demo: open {url}", "Demo logins:"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                          strict=True)).rstrip()
              for row in rows]
    kept = [user.username for user in data.users if user.username not in load.created_users]
    if load.created_users and kept:
        lines.append(f"(users that existed before keep their passwords: {', '.join(kept)})")
    return "\n".join(lines)
