"""Pipelines: transitions (the only way a state moves), their guards, pipeline states' say on
plain writes, and the board's per-state totals.
"""
