"""metacrm: a low-code, metadata-driven CRM platform.

The engine interprets JSON metadata (entities, fields, pipelines, roles, triggers, views,
reports) at runtime: it compiles it into an immutable model, makes real tables from it and
serves records through one repository.
"""

__version__ = "0.1.0"
