"""Where the shared data sets are (`../shared/datasets/` beside the checkout, with their
sources and terms): tests that load one find it here, or skip (fail in CI) naming where
they looked. `METACRM_DATASETS` overrides the search."""

from __future__ import annotations

import os
from pathlib import Path

from database_harness import service_unavailable

REPO = Path(__file__).resolve().parents[1]
MAVEN = "maven-crm-sales-opportunities"


def dataset_folder(name: str, marker: str) -> Path:
    """The folder of data set `name` (one holding the file `marker`)."""
    roots = [Path(os.environ["METACRM_DATASETS"])] if os.environ.get("METACRM_DATASETS") \
        else []
    roots += [REPO.parent / "shared" / "datasets",  # a checkout beside shared/
              REPO.parent.parent / "shared" / "datasets",  # a worktree one level deeper
              Path("/work/shared/datasets")]  # a clean checkout elsewhere on this machine
    for root in roots:
        if (root / name / marker).is_file():
            return root / name
    service_unavailable(f"the data set {name} is not in any of {[str(r) for r in roots]}")
    raise AssertionError("unreachable")
