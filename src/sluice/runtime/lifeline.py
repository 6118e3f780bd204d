"""An execution environment dies with the server that started it, even under `kill -9`.

A pipe ties the two together: the server keeps the write end, the environment's process inherits
the read end, and that read end is armed so that the kernel itself sends SIGKILL to the
environment's whole process group the moment the last write end closes, which is when the
server exits, however it exits. Nothing runs in the environment for this (no thread that a
handler holding the GIL could starve, no code in the runtime's start-up) and the kill reaches
the handler's own child processes too, which a parent-death signal (PR_SET_PDEATHSIG: the
runtime process alone) would leave running.

The arming is Linux's F_SETSIG on an O_ASYNC descriptor owned by the process group. Elsewhere
the descriptor is merely inherited and the runtime still exits on its own when the Runtime API
goes away between invocations; a handler mid-run there outlives the server until it returns.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal

# Linux only: without it O_ASYNC would send SIGIO, which BSD and macOS ignore by default.
_F_SETSIG: int | None = getattr(fcntl, "F_SETSIG", None)


class Lifeline:
    """One environment's pipe. `read_fd` goes to the child (pass_fds), then `arm` it."""

    def __init__(self) -> None:
        # Both ends are non-inheritable: no other child of the server may hold the write end,
        # or this environment would outlive the server for as long as that child lives.
        self.read_fd, self._write_fd = os.pipe()

    def arm(self, pgid: int) -> None:
        """Have the kernel SIGKILL process group `pgid` when the write end closes; the server's
        copy of the read end is closed (the child's copy is what keeps the pipe watched)."""
        try:
            if _F_SETSIG is not None:
                fcntl.fcntl(self.read_fd, fcntl.F_SETOWN, -pgid)
                fcntl.fcntl(self.read_fd, _F_SETSIG, signal.SIGKILL)
                flags = fcntl.fcntl(self.read_fd, fcntl.F_GETFL)
                fcntl.fcntl(self.read_fd, fcntl.F_SETFL, flags | os.O_ASYNC)
        except OSError:
            # ESRCH: the group is already gone (the runtime failed to start); nothing to tie.
            pass
        finally:
            self._close_read()

    def close(self) -> None:
        """Cut the line: any process still in the group is killed. Idempotent."""
        self._close_read()
        if self._write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = -1

    def _close_read(self) -> None:
        if self.read_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.read_fd)
            self.read_fd = -1
