"""The `metacrm` command line."""
