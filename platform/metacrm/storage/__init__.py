"""Storage adapter: engine setup, record tables, the metadata store, migrations, repository.

The only package that talks SQL to record tables.
"""
