"""The `metacrm` command: set up the database and manage metadata from a shell.

Every user-caused error is printed as `file pointer: reason` lines on stderr and ends the
command with exit code 1; nothing is applied in that case.
"""

from __future__ import annotations

import click

from metacrm.cli.bootstrap import lifecycle_of, open_runtime
from metacrm.cli.demo import demo
from metacrm.cli.errors import reports_errors
from metacrm.cli.imports import import_file
from metacrm.cli.jobs import scheduler, worker
from metacrm.cli.mail_watch import mail_watch
from metacrm.cli.metadata_commands import TAKE_OPTION, metadata
from metacrm.cli.packs import pack
from metacrm.cli.search import search
from metacrm.cli.serve import serve
from metacrm.cli.teams import team
from metacrm.cli.users import ensure_first_admin, user
from metacrm.metadata.layers import Side


@click.group()
@click.version_option(package_name="metacrm")
def main() -> None:
    """metacrm: a metadata-driven CRM. Settings come from METACRM_* environment variables."""


@main.command()
@click.option("--comment", default="metacrm init", show_default=True)
@TAKE_OPTION
@click.option("--confirm-destructive", is_flag=True,
              help="Allow new pack versions to archive fields or tables.")
@reports_errors
def init(comment: str, take: Side | None, confirm_destructive: bool) -> None:
    """Create or upgrade the database: install or upgrade every pack on
    METACRM_METADATA_PATH (other installed packs are kept), keeping what admins changed
    in the designer (a conflict stops it: see --take); create the first admin from
    METACRM_ADMIN_USER / METACRM_ADMIN_PASSWORD when they are set."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        lifecycle = lifecycle_of(runtime)
        result = lifecycle.sync(lifecycle.shipped(), comment=comment, take=take,
                                confirm_destructive=confirm_destructive)
        where = runtime.settings.database_url.split("@")[-1]
    click.echo("Packs: " + ", ".join(step.describe() for step in result.plan.steps) + ".")
    if result.version is None:
        click.echo(f"Database {where} is up to date.")
    else:
        click.echo(f"Database {where} is at metadata version {result.version.number}.")
    admin = ensure_first_admin(runtime.settings)
    if admin is not None:
        click.echo(admin)


main.add_command(user)
main.add_command(serve)
main.add_command(team)
main.add_command(worker)
main.add_command(scheduler)
main.add_command(mail_watch)
main.add_command(demo)
main.add_command(metadata)
main.add_command(pack)
main.add_command(import_file)
main.add_command(search)
