"""The criteria language: one JSON condition tree, two interpreters that agree.

* `tree` — parse and check a tree against an entity, bind its operands (pure; used by the
  metadata compiler);
* `context` — the variables `$user`, `$team`, `$now`, `$today` and relative dates;
* `predicate` — compile to a Python predicate over a record (pure);
* `sql` — compile to a SQLAlchemy expression over the entity's table.

Import the interpreters from their modules; this package imports nothing so that the pure
parts stay free of SQLAlchemy.
"""
