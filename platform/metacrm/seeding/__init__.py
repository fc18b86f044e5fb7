"""The demo data set (`seed/`) and its loader, behind `metacrm demo`.

- `dataset`: reads and checks the seed files (pure; no database);
- `values`: resolves the markers in seed values (record ids, user ids, relative dates);
- `accounts`: creates the demo teams and users (Flask-AppBuilder);
- `records`: writes the records as their users, with history, in one transaction;
- `loader`: `seed_database(settings)`, the whole load, idempotent.
"""

from metacrm.seeding.dataset import SEED_PATH, DemoData, read_demo_data
from metacrm.seeding.loader import DemoLoad, seed_database

__all__ = ["SEED_PATH", "DemoData", "DemoLoad", "read_demo_data", "seed_database"]
