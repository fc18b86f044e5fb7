"""Make the pack's module importable when the repository's pytest runs these tests."""

from __future__ import annotations

import sys
from pathlib import Path

PACK_ROOT = str(Path(__file__).resolve().parents[1])
if PACK_ROOT not in sys.path:
    sys.path.insert(0, PACK_ROOT)
