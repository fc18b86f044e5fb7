"""`metacrm metadata …`: validate, plan, apply, list versions, and move admins'
customisations between instances (`export` on a test instance, `plan`/`apply
--customisations DIR` on production).

Applying the packs never drops what admins changed in the designer or through the metadata
API: the packs' files are the baseline and the customisations are re-applied on top
(`metacrm.metadata.layers`); a conflict stops the command until someone chooses a side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from metacrm.cli.bootstrap import Runtime, open_runtime, pack_documents
from metacrm.cli.errors import reports_errors
from metacrm.cli.metadata_files import read_customisations, write_customisations
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import load_model
from metacrm.metadata.documents import Document
from metacrm.metadata.layers import Side, overlay
from metacrm.settings import Settings

TAKE_OPTION = click.option(
    "--take", type=click.Choice(["pack", "admin"]), default=None,
    help="Resolve conflicts between admins' changes and the packs by taking this side.")
CUSTOMISATIONS_OPTION = click.option(
    "--customisations", "customisations_dir", default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Apply the customisations `metacrm metadata export` wrote (another instance's "
         "designer changes) on top of this database's metadata.")


@click.group()
def metadata() -> None:
    """Validate, plan, apply, export and list metadata versions."""


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
@TAKE_OPTION
@CUSTOMISATIONS_OPTION
@reports_errors
def plan(take: Side | None, customisations_dir: Path | None) -> None:
    """Print what applying would change: the migration, the admins' customisations kept on
    top of the packs, and any conflict between the two."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        if customisations_dir is not None:
            report = runtime.metadata.plan(_with_customisations(runtime, customisations_dir))
            click.echo(report.describe())
            return
        rebase = runtime.metadata.plan_rebase(_pack_baseline(runtime), take=take)
    click.echo(rebase.describe())


@metadata.command()
@click.option("--confirm-destructive", is_flag=True, help="Allow dropping or changing fields.")
@click.option("--comment", default=None, help="Why this version was applied.")
@TAKE_OPTION
@CUSTOMISATIONS_OPTION
@reports_errors
def apply(confirm_destructive: bool, comment: str | None, take: Side | None,
          customisations_dir: Path | None) -> None:
    """Apply the metadata packs (admins' customisations kept on top), or with
    --customisations DIR another instance's exported customisations: migrate the tables and
    record a new version."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        if customisations_dir is not None:
            applied = runtime.metadata.apply(
                _with_customisations(runtime, customisations_dir), author="cli:customisations",
                comment=comment or f"customisations from {customisations_dir}",
                confirm_destructive=confirm_destructive)
        else:
            applied = runtime.metadata.rebase_onto(
                _pack_baseline(runtime), author="cli", comment=comment, take=take,
                confirm_destructive=confirm_destructive)
    if applied is None:
        click.echo("Nothing to apply: the database already has this metadata.")
        return
    click.echo(applied.describe())


@metadata.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@reports_errors
def export(directory: Path) -> None:
    """Write the live customisations (what admins changed relative to the packs) as files
    in DIRECTORY, to review, commit and apply elsewhere with `apply --customisations`."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        live = runtime.metadata.live()
        changes = runtime.metadata.customisations()
        documents = {(d.kind, d.name): d for d in runtime.metadata.live_documents()}
    written = write_customisations(directory, changes, documents, version=live.number)
    click.echo(f"Wrote {written} customised document{'s' if written != 1 else ''} and "
               f"{len(changes) - written} removal{'s' if len(changes) - written != 1 else ''} "
               f"of metadata version {live.number} to {directory}.")


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


def _pack_baseline(runtime: Runtime) -> list[Document]:
    return pack_documents(runtime.settings.metadata_paths, runtime.registry)


def _with_customisations(runtime: Runtime, directory: Path) -> list[Document]:
    exported = read_customisations(directory)
    return overlay(runtime.metadata.live_documents(), exported.documents, exported.removed)
