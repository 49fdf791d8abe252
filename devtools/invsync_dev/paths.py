"""Where the local tools keep their state (the CLI modules and the local stack read it from here)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# the local stack's PostgreSQL data, dev JWT key, ...: .data/ in the checkout unless INVSYNC_DATA_DIR says otherwise
DATA_DIR = Path(os.environ.get("INVSYNC_DATA_DIR", PROJECT_ROOT / ".data"))
