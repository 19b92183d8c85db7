"""Named crash points for durability tests.

Durability claims ("a SIGKILL mid-ingest leaves the previous version intact") are tested by
killing a real ``gp`` process at a precise moment. When ``GP_FAULT_POINT`` names a point the
process reaches, it writes ``GP_FAULT_MARKER`` and blocks until killed. Unset (always, outside
tests) the cost is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def reach(point: str) -> None:
    """Block here forever if the environment asks this process to stop at ``point``."""
    if os.environ.get("GP_FAULT_POINT") != point:
        return
    marker = os.environ.get("GP_FAULT_MARKER")
    if marker:
        Path(marker).write_text(point, encoding="utf-8")
    while True:  # wait for the test to SIGKILL us
        time.sleep(1)
