"""The `metacrm` command: set up the database and manage metadata from a shell.

Every user-caused error is printed as `file pointer: reason` lines on stderr and ends the
command with exit code 1; nothing is applied in that case.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from metacrm.cli.bootstrap import open_runtime, pack_documents
from metacrm.cli.demo import demo
from metacrm.cli.errors import reports_errors
from metacrm.cli.jobs import scheduler, worker
from metacrm.cli.packs import lifecycle_of, pack
from metacrm.cli.teams import team
from metacrm.cli.users import ensure_first_admin, serve, user
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import load_model
from metacrm.settings import Settings


@click.group()
@click.version_option(package_name="metacrm")
def main() -> None:
    """metacrm: a metadata-driven CRM. Settings come from METACRM_* environment variables."""


@main.command()
@click.option("--comment", default="metacrm init", show_default=True)
@click.option("--confirm-destructive", is_flag=True,
              help="Allow new pack versions to archive fields or tables.")
@reports_errors
def init(comment: str, confirm_destructive: bool) -> None:
    """Create or upgrade the database: install or upgrade every pack on
    METACRM_METADATA_PATH (other installed packs are kept); create the first admin from
    METACRM_ADMIN_USER / METACRM_ADMIN_PASSWORD when they are set."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        lifecycle = lifecycle_of(runtime)
        result = lifecycle.sync(lifecycle.shipped(), comment=comment,
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
main.add_command(demo)
main.add_command(pack)


@main.group()
def metadata() -> None:
    """Validate, plan, apply and list metadata versions."""


@metadata.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@reports_errors
def validate(paths: Sequence[Path]) -> None:
    """Check metadata packs (default: METACRM_METADATA_PATH) and list every error."""
    roots = tuple(paths) or Settings.from_env().metadata_paths
    model = load_model(roots, default_registry())
    click.echo(
        f"OK: {len(model.entities)} entities, "
        f"{len(model.pipelines)} pipelines, {len(model.roles)} roles, "
        f"{len(model.triggers)} triggers, {len(model.views)} views, "
        f"{len(model.reports)} reports."
    )


@metadata.command()
@reports_errors
def plan() -> None:
    """Print what applying the metadata packs would change in the database."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        report = runtime.metadata.plan(
            pack_documents(runtime.settings.metadata_paths, runtime.registry)
        )
    click.echo(report.describe())


@metadata.command()
@click.option("--confirm-destructive", is_flag=True, help="Allow dropping or changing fields.")
@click.option("--comment", default=None, help="Why this version was applied.")
@reports_errors
def apply(confirm_destructive: bool, comment: str | None) -> None:
    """Apply the metadata packs: migrate the tables and record a new version."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        documents = pack_documents(runtime.settings.metadata_paths, runtime.registry)
        applied = runtime.metadata.apply(
            documents, author="cli", comment=comment, confirm_destructive=confirm_destructive
        )
    if applied is None:
        click.echo("Nothing to apply: the database already has this metadata.")
        return
    click.echo(applied.describe())


@metadata.command()
@reports_errors
def history() -> None:
    """List the applied metadata versions, newest first."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        versions = runtime.metadata.history()
    if not versions:
        click.echo("No metadata version applied yet: run `metacrm init`.")
    for version in versions:
        click.echo(version.describe())

