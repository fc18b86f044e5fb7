"""`metacrm search reindex [ENTITY...]`: build the search index of record tables again.

The migration plan keeps the index in step with the search fields and the database keeps
it in step with the records; this is for repairs (e.g. a SQLite file restored without its
index, or one edited with another tool that lacks metacrm's stemming function).
"""

from __future__ import annotations

import click

from metacrm.cli.bootstrap import open_runtime
from metacrm.cli.errors import reports_errors
from metacrm.storage.migration.search import reindex as reindex_tables


@click.group()
def search() -> None:
    """Global search's full-text index."""


@search.command("reindex")
@click.argument("entities", nargs=-1)
@reports_errors
def reindex(entities: tuple[str, ...]) -> None:
    """Rebuild the search index of ENTITIES (default: every entity)."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        model = runtime.metadata.current_model()
        unknown = [name for name in entities if model.entity(name) is None]
        if unknown:
            raise click.UsageError(f"no such entity: {', '.join(unknown)}")
        chosen = [model.entities[name] for name in (entities or sorted(model.entities))]
        with runtime.engine.begin() as connection:
            indexed = reindex_tables(connection, chosen, runtime.registry)
    click.echo(f"Rebuilt the search index of {indexed} "
               f"entit{'y' if indexed == 1 else 'ies'}.")
