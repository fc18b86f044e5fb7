"""Computed fields: stored formulas and rollups kept up to date in each change's transaction.

`saves.ComputedSaves` computes a record's own formulas and lookup defaults as it is saved;
`dependents.ComputedDependents` recomputes the rollups and formulas of other records that
read what a command changed; `install(services)` wires both into the records service.
"""
