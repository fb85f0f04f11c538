"""Suite-wide settings: make e2e/ importable (the local cluster manager) for integration fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))
