"""Metadata: documents -> JSON Schema validation -> cross-checks -> compiled, immutable model.

Pure functions; imports neither Flask nor SQLAlchemy. Field types are known through the
`FieldTypeCatalog` port (metacrm.metadata.catalog), which the field type registry implements.
"""
