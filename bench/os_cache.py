"""The operating system's page cache, dropped before cold-read measurements when asked.

Spread reads (bench/reads.py) find most of their pages outside ``shared_buffers`` at the large
profile; whether the OS still holds them depends on which layout copy was written or read
last, not on the layout. Dropping the page cache first makes every variant start equally
cold. It needs root on Linux and a server on this machine, and it slows everything else on
the machine for a while, so it happens only with ``--drop-os-cache``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DROP_CACHES: Final = Path("/proc/sys/vm/drop_caches")
KEPT: Final = (
    "kept (run without --drop-os-cache): a variant whose files were touched last reads faster"
)


class OsPageCache:
    """Drops the page cache on request; each call says what happened, for the result files."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def drop(self) -> str:
        """Write dirty pages back and drop clean ones; the outcome as a sentence."""
        if not self.enabled:
            return KEPT
        if not DROP_CACHES.exists():
            return f"kept: {DROP_CACHES} does not exist (not Linux?)"
        os.sync()
        try:
            DROP_CACHES.write_text("1\n")
        except OSError as exc:
            return f"kept: writing {DROP_CACHES} failed ({exc.strerror}; needs root)"
        return "dropped just before (sync; echo 1 > /proc/sys/vm/drop_caches)"
