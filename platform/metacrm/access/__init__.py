"""Access control in one place: who may read and change which records and fields.

Role metadata (`kind: role`) is interpreted at runtime by `policy.AccessPolicy`; every read
and write path goes through `scoped_repository.ScopedRepository`. See README.md.
"""
