"""What a test may ask of a running process about its signals (Linux /proc)."""

from __future__ import annotations

import signal
from pathlib import Path


def catches_sigterm(pid: int) -> bool:
    """Has the process installed a SIGTERM handler yet (the SigCgt mask)? False once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))
