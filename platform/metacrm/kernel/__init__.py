"""The innermost layer: ids, errors and ports. Imports neither Flask nor SQLAlchemy."""
