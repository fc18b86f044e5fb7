"""metacrm: a low-code, metadata-driven CRM platform.

The engine interprets JSON metadata (entities, fields, pipelines, roles, triggers, views,
reports) at runtime: it compiles it into an immutable model, makes real tables from it and
serves records through one repository.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`metacrm.create_app`, imported lazily so that the CLI and the engine's inner layers
    do not pay for importing Flask-AppBuilder."""
    if name == "create_app":
        from metacrm.app import create_app

        return create_app
    raise AttributeError(f"module 'metacrm' has no attribute {name!r}")
