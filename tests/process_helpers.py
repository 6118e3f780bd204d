"""Find the processes a test's server left behind, from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def _alive(pid: int) -> bool:
    """Running or sleeping, not a zombie waiting for a reaper (those hold no port, file or CPU)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"


def environment_processes(data_dir: Path) -> set[int]:
    """Live processes whose environment mentions `data_dir`: execution environments get their
    HOME and TMPDIR under it, and handlers' own child processes inherit those."""
    marker = str(data_dir).encode()
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ and _alive(int(name)):
            found.add(int(name))
    return found


def kill_all(pids: set[int]) -> None:
    """Clean up after a failed test: SIGKILL whatever is left."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
