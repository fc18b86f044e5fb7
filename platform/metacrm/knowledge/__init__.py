"""The knowledge base engine (docs/service.md, "Knowledge base"): articles suggested on a
ticket from its subject (`suggestions`). The article itself is the `knowledge` pack's
metadata (`metadata/knowledge/`); without a `kb_article` entity everything here is idle."""
