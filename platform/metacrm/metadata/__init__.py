"""Metadata: documents -> JSON Schema validation -> cross-checks -> compiled, immutable model.

Pure functions; imports neither Flask nor SQLAlchemy. Field types are known through the
`FieldTypeCatalog` port (metacrm.metadata.catalog), which the field type registry implements.

Where things are:

* `documents` — `Document`, the unit the loader returns and the metadata store keeps;
* `loader` — packs on disk -> documents (`load_documents`, `read_documents`);
* `schemas`, `validation`, `specialise`, `schema_errors`, `schema_keys` — the JSON Schemas
  of `schemas/` and readable, pointer-precise errors against them;
* `compiler` — documents -> `CompiledModel` (`compile_model`, `load_model`);
* `model` — the compiled model's frozen dataclasses; `catalog` — the field type port.

This package imports nothing at import time on purpose: `metacrm.criteria.tree` imports
`metacrm.metadata.model`, and the compiler imports `metacrm.criteria.tree`.
"""
